// The prime-order group ristretto255 through libsodium.js, as ballot_tx/crypto/group.py.
//
// Scalars are BigInt mod L in arithmetic and 32-byte little-endian on the wire (canonical:
// < L). Points are 32-byte canonical encodings; the identity is 32 zero bytes. libsodium.js
// throws where the C library returns -1 for an identity result (zero scalar, identity
// input): like the Python code we treat that as the identity.

import { sodium } from '../sodium.js';
import { concat, equal } from '../bytes.js';
import { domain } from '../hash.js';
import { CryptoError } from '../errors.js';

export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
export const IDENTITY = new Uint8Array(32);

/** Canonical 32-byte encoding of the scalar x mod L. */
export function sc(x) {
  let v = ((BigInt(x) % L) + L) % L;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Integer value of a 32-byte little-endian encoding (no canonicity check). */
export function scInt(b) {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/** A scalar from the wire: 32 bytes and < L, else CRYPTO_BAD_SCALAR. Returns the bytes. */
export function scalarBytes(b, what = 'scalar') {
  if (b.length !== 32 || scInt(b) >= L) throw new CryptoError('CRYPTO_BAD_SCALAR', `${what} is not a canonical scalar`);
  return b;
}

/** Integer value of a canonical scalar from the wire (CRYPTO_BAD_SCALAR otherwise). */
export const scalar = (b, what = 'scalar') => scInt(scalarBytes(b, what));

const isIdentity = (p) => p.every((x) => x === 0);

// RFC 9496 section 4.3.1: bit 255 set is a non-canonical field encoding. libsodium.js
// (>= 1.0.19) refuses it already; checked here too so the page never depends on the
// libsodium version to agree with the chain (ballot_tx/crypto/group.py does the same).
const canonical = (p) => (p[31] & 0x80) === 0 && sodium.crypto_core_ristretto255_is_valid_point(p);

/** True iff p is a canonical encoding of a non-identity ristretto255 point. */
export const isPoint = (p) => p.length === 32 && !isIdentity(p) && canonical(p);

/** Check a point from the wire; CRYPTO_BAD_POINT naming `what` if invalid. */
export function point(p, what = 'point', allowIdentity = false) {
  if (!(p instanceof Uint8Array) || p.length !== 32) throw new CryptoError('CRYPTO_BAD_POINT', `${what} must be 32 bytes`);
  if (isIdentity(p)) {
    if (allowIdentity) return p;
    throw new CryptoError('CRYPTO_BAD_POINT', `${what} must not be the identity`);
  }
  if (!canonical(p)) {
    throw new CryptoError('CRYPTO_BAD_POINT', `${what} is not a canonical ristretto255 point`);
  }
  return p;
}

/** s*P for a canonical scalar encoding and a valid point (or the identity). */
export function mul(s, p) {
  try {
    return sodium.crypto_scalarmult_ristretto255(s, p);
  } catch {
    return IDENTITY.slice();
  }
}

/** s*G. */
export function base(s) {
  try {
    return sodium.crypto_scalarmult_ristretto255_base(s);
  } catch {
    return IDENTITY.slice();
  }
}

export const add = (p, q) => sodium.crypto_core_ristretto255_add(p, q);
export const sub = (p, q) => sodium.crypto_core_ristretto255_sub(p, q);

/** The sum of a list of points (the identity for an empty one). */
export function sumPoints(points) {
  if (points.length === 0) return IDENTITY.slice();
  let acc = points[0];
  for (let i = 1; i < points.length; i++) acc = add(acc, points[i]);
  return acc;
}

export const G = base(sc(1n));

const smallCache = new Map();
/** m*G for a small non-negative integer (cached). */
export function smallMultiple(m) {
  let p = smallCache.get(m);
  if (!p) {
    p = base(sc(BigInt(m)));
    smallCache.set(m, p);
  }
  return p;
}

const sha512 = (kind, parts) => sodium.crypto_hash_sha512(concat(domain(kind), ...parts));

/** SHA-512(domain(kind) || parts...) mod L, as a BigInt (Fiat-Shamir challenges, nonces). */
export const hashToScalar = (kind, ...parts) => scInt(sodium.crypto_core_ristretto255_scalar_reduce(sha512(kind, parts)));

/** ristretto255 from_hash(SHA-512(domain(kind) || parts...)). */
export const hashToPoint = (kind, ...parts) => sodium.crypto_core_ristretto255_from_hash(sha512(kind, parts));

export { equal };
