// Receipt checks, trusting no server: the voter's transaction is in a block (RFC 9162
// Merkle inclusion, as ballot_tx/block.py) and that block is final (a commit certificate
// with 2f+1 distinct genesis validators' signatures of Commit(view, height, block hash),
// as consensus/certificate.py), on the chain whose genesis hashes to the chain id.

import { concat, equal, toHex } from './bytes.js';
import { digest, hashBytes } from './hash.js';
import { encode } from './codec.js';
import { verify } from './keys.js';
import { BallotchainError } from './errors.js';

const leafHash = (item) => hashBytes('merkle/leaf', item);
const nodeHash = (l, r) => hashBytes('merkle/node', concat(l, r));

/** RFC 9162 2.1.3.2: true iff `item` with this audit path hashes to `root`. */
export function verifyMerkleProof(item, proof, root) {
  if (!(proof.index < proof.size)) return false;
  let fn = proof.index;
  let sn = proof.size - 1;
  let r = leafHash(item);
  for (const p of proof.path) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      r = nodeHash(p, r);
      if (!(fn & 1)) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equal(r, root);
}

/** Throw BLOCK_BAD_PROOF unless p.tx_hash is in the block whose header p carries. */
export function verifyInclusion(p) {
  if (p.proof.size !== p.header.tx_count || !verifyMerkleProof(p.tx_hash, p.proof, p.header.tx_root)) {
    throw new BallotchainError(
      'BLOCK_BAD_PROOF',
      `transaction ${toHex(p.tx_hash).slice(0, 16)} is not proven to be in block ${p.header.height}`,
    );
  }
}

export const blockHash = (header) => digest('BlockHeader', header);
export const genesisHash = (genesis) => digest('Genesis', genesis);

const badCert = (why) => new BallotchainError('CONSENSUS_BAD_CERTIFICATE', why);

/**
 * Throw CONSENSUS_BAD_CERTIFICATE unless 2f+1 distinct genesis validators signed
 * Commit(cert.view, cert.height, cert.block_hash) on this chain (verify_certificate).
 */
export function verifyCertificate(genesis, chainId, cert) {
  if (cert.height < 1) throw badCert('certificate height must be >= 1');
  if (cert.block_hash.every((x) => x === 0)) throw badCert('certificate names no block');
  const keys = genesis.validators.map((v) => v.ed25519_public);
  const n = keys.length;
  const quorum = 2 * Math.floor((n - 1) / 3) + 1;
  const body = encode('Commit', { $type: 'Commit', view: cert.view, height: cert.height, block_hash: cert.block_hash });
  const what = `commit certificate for height ${cert.height}`;
  const seen = new Set();
  for (const s of cert.sigs) {
    if (seen.has(s.validator)) throw badCert(`${what}: validator ${s.validator} signs twice`);
    if (!(s.validator >= 0 && s.validator < n) || !verify(keys[s.validator], 'pbft/commit', chainId, body, s.signature)) {
      throw badCert(`${what}: bad signature of validator ${s.validator}`);
    }
    seen.add(s.validator);
  }
  if (seen.size < quorum) throw badCert(`${what}: ${seen.size} signatures, need ${quorum}`);
}

/**
 * Everything a receipt proves, checked in order; returns a summary for the page.
 * `trackingCode` is what the voter holds; `genesis` must hash to `chainId` (the caller
 * pins the chain id); `proof` and `cert` come from any node, decoded from their bytes.
 */
export function verifyReceipt({ trackingCode, genesis, chainId, proof, cert }) {
  if (!equal(genesisHash(genesis), chainId)) {
    throw new BallotchainError('WEB_WRONG_CHAIN', 'the genesis document does not hash to the expected chain id');
  }
  if (!equal(proof.tx_hash, trackingCode)) {
    throw new BallotchainError('BLOCK_BAD_PROOF', 'the inclusion proof is for another transaction');
  }
  verifyInclusion(proof);
  const bh = blockHash(proof.header);
  if (cert === null || cert === undefined) throw badCert('the node gave no commit certificate for this block');
  if (cert.height !== proof.header.height || !equal(cert.block_hash, bh)) {
    throw badCert('the commit certificate is for another block');
  }
  verifyCertificate(genesis, chainId, cert);
  const n = genesis.validators.length;
  return {
    height: proof.header.height,
    blockHash: bh,
    timeMs: proof.header.time_ms,
    signatures: cert.sigs.length,
    validators: n,
    quorum: 2 * Math.floor((n - 1) / 3) + 1,
  };
}
