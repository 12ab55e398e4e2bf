// Exponential ElGamal under the joint election key K, as ballot_tx/crypto/elgamal.py:
//   Enc_K(m; r) = (alpha, beta) = (r*G, m*G + r*K)
// A ciphertext is { alpha, beta } (wire class Ciphertext).

import * as g from './group.js';

export const ciphertext = (alpha, beta) => ({ $type: 'Ciphertext', alpha, beta });

/** Enc_K(m; r) for a small non-negative message m and a BigInt nonce r. */
export function encrypt(key, m, r) {
  const rb = g.sc(r);
  let beta = g.mul(rb, key);
  if (m) beta = g.add(g.smallMultiple(m), beta);
  return ciphertext(g.base(rb), beta);
}

/** Validate both points of a ciphertext from the wire (CRYPTO_BAD_POINT). */
export function check(ct, what, allowIdentity = false) {
  g.point(ct.alpha, `${what}.alpha`, allowIdentity);
  g.point(ct.beta, `${what}.beta`, allowIdentity);
}

/** Component-wise sum (Enc(0; 0) for an empty list). */
export const sumCiphertexts = (cts) =>
  ciphertext(g.sumPoints(cts.map((c) => c.alpha)), g.sumPoints(cts.map((c) => c.beta)));

export const equalCiphertexts = (x, y) => g.equal(x.alpha, y.alpha) && g.equal(x.beta, y.beta);
