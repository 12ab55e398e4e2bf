// Cross-test operations for the ballot cryptography (see cross.mjs).

import { decode, encode } from '../src/codec.js';
import { fromHex, toHex, utf8 } from '../src/bytes.js';
import * as g from '../src/crypto/group.js';
import { encryptBallot, verifyBallot, verifySpoiled } from '../src/crypto/ballot.js';
import { electionId, validateManifest, checkSelections } from '../src/manifest.js';

const manifestOf = (r) => decode('Manifest', fromHex(r.manifest));

export const OPS = {
  election_id: (r) => toHex(electionId(manifestOf(r))),
  validate_manifest(r) {
    validateManifest(manifestOf(r));
    return true;
  },
  check_selections(r) {
    checkSelections(manifestOf(r), r.selections);
    return true;
  },
  encrypt_ballot(r) {
    const { ballot, secrets } = encryptBallot(
      manifestOf(r), fromHex(r.key), fromHex(r.credential), r.selections, r.seed ? fromHex(r.seed) : null,
    );
    return { ballot: toHex(encode('EncryptedBallot', ballot)), secrets: toHex(encode('BallotSecrets', secrets)) };
  },
  verify_ballot(r) {
    const ballot = decode('EncryptedBallot', fromHex(r.ballot));
    verifyBallot(manifestOf(r), fromHex(r.key), fromHex(r.credential), ballot);
    return true;
  },
  verify_spoiled(r) {
    const ballot = decode('EncryptedBallot', fromHex(r.ballot));
    const secrets = decode('BallotSecrets', fromHex(r.secrets));
    return verifySpoiled(manifestOf(r), fromHex(r.key), fromHex(r.credential), ballot, secrets);
  },
  group(r) {
    switch (r.fn) {
      case 'base': return toHex(g.base(fromHex(r.s)));
      case 'mul': return toHex(g.mul(fromHex(r.s), fromHex(r.p)));
      case 'add': return toHex(g.add(fromHex(r.p), fromHex(r.q)));
      case 'sub': return toHex(g.sub(fromHex(r.p), fromHex(r.q)));
      case 'point': return toHex(g.point(fromHex(r.p), 'point', !!r.allow_identity));
      case 'scalar': return toHex(g.scalarBytes(fromHex(r.s)));
      case 'hash_to_scalar': return toHex(g.sc(g.hashToScalar(r.kind, fromHex(r.data))));
      case 'hash_to_point': return toHex(g.hashToPoint(r.kind, fromHex(r.data)));
      case 'generator': return toHex(g.G);
      default: throw new TypeError(`unknown group fn ${r.fn}`);
    }
  },
  utf8: (r) => toHex(utf8(r.text)),
};

// --- transactions and receipts -------------------------------------------------------

import { KeyPair } from '../src/keys.js';
import { signTx, txBytes, txHash, castBallot, spoilBallot } from '../src/tx.js';
import { verifyReceipt, verifyMerkleProof, genesisHash } from '../src/receipt.js';

Object.assign(OPS, {
  // Encrypt, then sign a cast (or spoil) transaction with keys from a seed.
  cast_tx(r) {
    const m = manifestOf(r);
    const keys = KeyPair.fromSeed(fromHex(r.voter_seed));
    const { ballot, secrets } = encryptBallot(m, fromHex(r.key), keys.ed25519Public, r.selections);
    const body = r.spoil ? spoilBallot(ballot, secrets) : castBallot(ballot);
    const raw = txBytes(signTx(keys, fromHex(r.chain_id), body, r.expires_ms));
    return { tx: toHex(raw), hash: toHex(txHash(raw)) };
  },
  decode_tx(r) {
    const raw = fromHex(r.tx);
    const tx = decode('Tx', raw);
    return { reencoded: toHex(encode('Tx', tx)), hash: toHex(txHash(raw)), type: tx.body.$type };
  },
  merkle(r) {
    const proof = decode('InclusionProof', fromHex(r.proof)).proof;
    return verifyMerkleProof(fromHex(r.item), proof, fromHex(r.root));
  },
  genesis_hash: (r) => toHex(genesisHash(decode('Genesis', fromHex(r.genesis)))),
  verify_receipt(r) {
    const out = verifyReceipt({
      trackingCode: fromHex(r.tracking_code),
      genesis: decode('Genesis', fromHex(r.genesis)),
      chainId: fromHex(r.chain_id),
      proof: decode('InclusionProof', fromHex(r.proof)),
      cert: r.cert ? decode('CommitCertificate', fromHex(r.cert)) : null,
    });
    return { ...out, blockHash: toHex(out.blockHash) };
  },
});

import { MESSAGES } from '../src/i18n.js';
import { normalize, codeKeys } from '../src/otc.js';

Object.assign(OPS, {
  messages: () => MESSAGES,
  otc: (r) => ({ code: normalize(r.code), public: toHex(codeKeys(fromHex(r.eid), fromHex(r.salt), r.code).ed25519Public) }),
});
