// Cross-test bridge: pytest (tests/web/) sends a JSON list of operations on stdin,
// this runs each with the browser modules under Node and prints a JSON list of
// results: {"ok": value} or {"error": CODE} (a BallotchainError) or {"crash": text}
// (anything else, which the Python side treats as a failure). Bytes travel as hex.

import { readFileSync } from 'node:fs';
import { makeCodec, DEFAULT_CODEC, unpack, checkPlain } from '../src/codec.js';
import { digest, hashBytes } from '../src/hash.js';
import { fromHex, toHex } from '../src/bytes.js';
import { KeyPair, loadKeyFile, signingBytes, verify, nodeId, isEncrypted, publicInfo } from '../src/keys.js';
import { OPS as CRYPTO_OPS } from './cross_crypto.mjs';

const codecFor = (r) => (r.schema ? makeCodec(r.schema) : DEFAULT_CODEC);

const OPS = {
  // Decode strictly, then re-encode: the canonical bytes must come back unchanged.
  decode(r) {
    const c = codecFor(r);
    const obj = c.decode(r.cls, fromHex(r.hex));
    const again = toHex(c.encode(r.cls, obj));
    const out = { reencoded: again };
    if (c.kindOf(r.cls)) out.digest = toHex(digest(r.cls, obj, c));
    return out;
  },
  // The parse stage alone (unpack + plain check), for raw msgpack fuzzing.
  unpack(r) {
    checkPlain(unpack(fromHex(r.hex), r.max_size));
    return true;
  },
  hash_bytes: (r) => toHex(hashBytes(r.kind, fromHex(r.hex))),
  signing_bytes: (r) => toHex(signingBytes(r.kind, fromHex(r.chain_id), fromHex(r.body))),
  keypair_from_seed(r) {
    const k = KeyPair.fromSeed(fromHex(r.seed));
    return {
      ed25519_public: toHex(k.ed25519Public),
      x25519_public: toHex(k.x25519Public),
      node_id: k.nodeId,
      signature: r.kind ? toHex(k.sign(r.kind, fromHex(r.chain_id), fromHex(r.body))) : null,
    };
  },
  verify: (r) => verify(fromHex(r.public), r.kind, fromHex(r.chain_id), fromHex(r.body), fromHex(r.signature)),
  node_id: (r) => nodeId(fromHex(r.public)),
  load_key_file(r) {
    const k = loadKeyFile(r.text, r.password ?? null);
    return { seed: toHex(k.ed25519Seed), x25519_secret: toHex(k.x25519Secret), node_id: k.nodeId };
  },
  is_encrypted: (r) => isEncrypted(r.text),
  public_info: (r) => publicInfo(r.text),
  ...CRYPTO_OPS,
};

const requests = JSON.parse(readFileSync(0, 'utf8'));
const results = requests.map((r) => {
  try {
    const op = OPS[r.op];
    if (!op) return { crash: `unknown op ${r.op}` };
    return { ok: op(r) };
  } catch (e) {
    if (e && typeof e.code === 'string' && e.name === 'BallotchainError') return { error: e.code, message: e.detail };
    return { crash: String(e && e.stack ? e.stack : e) };
  }
});
process.stdout.write(JSON.stringify(results));
