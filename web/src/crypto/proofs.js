// Disjunctive Chaum-Pedersen range proofs, as ballot_tx/crypto/proofs.py.
//
// Ciphertext (alpha, beta) under key K encrypts some m in [lo, hi]. For each branch
// j = 0..k-1 (k = hi - lo + 1, m_j = lo + j):
//   a_j = z_j*G - c_j*alpha
//   b_j = z_j*K - c_j*(beta - m_j*G)
//   sum_j c_j = H_"crypto/range"(ctx, alpha, beta, u32(lo), u32(hi), a_0, b_0, ..., a_{k-1}, b_{k-1})

import * as g from './group.js';
import { u32le, utf8, concat } from '../bytes.js';
import { CryptoError } from '../errors.js';

export const MAX_BRANCHES = 128;

const bad = (what) => new CryptoError('CRYPTO_BAD_PROOF', `${what} does not verify`);

/** A prover's nonce derived from its secret seed and the statement (proofs.derive_nonce). */
export const deriveNonce = (seed, label, ...parts) => g.hashToScalar('crypto/prover-nonce', seed, label, ...parts);

export const rangeProof = (c, z) => ({ $type: 'RangeProof', c, z });

/** Prove ct = Enc_K(m; r) with lo <= m <= hi. */
export function proveRange(ct, key, m, r, lo, hi, ctx, seed) {
  if (!(lo <= m && m <= hi)) throw new CryptoError('CRYPTO_BAD_SELECTION', `value ${m} is outside [${lo}, ${hi}]`);
  if (hi - lo + 1 > MAX_BRANCHES) throw new CryptoError('CRYPTO_WRONG_SHAPE', `range [${lo}, ${hi}] is too wide`);
  return proveBranch(ct, key, m - lo, r, lo, hi, ctx, seed);
}

/** The CDS prover: branch `real` answered honestly, the others simulated. */
export function proveBranch(ct, key, real, r, lo, hi, ctx, seed) {
  const k = hi - lo + 1;
  const { alpha, beta } = ct;
  const label = concat(utf8('range'), u32le(lo), u32le(hi));
  const cs = new Array(k).fill(0n);
  const zs = new Array(k).fill(0n);
  const commit = [];
  const w = deriveNonce(seed, label, ctx, alpha, beta, utf8('w'));
  for (let j = 0; j < k; j++) {
    if (j === real) {
      const wb = g.sc(w);
      commit.push(g.base(wb), g.mul(wb, key));
      continue;
    }
    const cj = deriveNonce(seed, label, ctx, alpha, beta, utf8('c'), u32le(j));
    const zj = deriveNonce(seed, label, ctx, alpha, beta, utf8('z'), u32le(j));
    cs[j] = cj;
    zs[j] = zj;
    const cb = g.sc(cj);
    const zb = g.sc(zj);
    const mj = lo + j;
    const bm = mj === 0 ? beta : g.sub(beta, g.smallMultiple(mj));
    commit.push(g.sub(g.base(zb), g.mul(cb, alpha)), g.sub(g.mul(zb, key), g.mul(cb, bm)));
  }
  const c = g.hashToScalar('crypto/range', ctx, alpha, beta, u32le(lo), u32le(hi), ...commit);
  const sum = cs.reduce((a, b) => a + b, 0n);
  cs[real] = (((c - sum) % g.L) + g.L) % g.L;
  zs[real] = (w + cs[real] * BigInt(r)) % g.L;
  return rangeProof(cs.map(g.sc), zs.map(g.sc));
}

/** Check a range proof; ct and key must already be validated points. */
export function verifyRange(proof, ct, key, lo, hi, ctx, what) {
  const { c: cs, z: zs } = proof;
  const k = hi - lo + 1;
  if (cs.length !== k || zs.length !== k) {
    throw new CryptoError('CRYPTO_WRONG_SHAPE', `${what} must have ${k} branches, not ${cs.length}/${zs.length}`);
  }
  const { alpha, beta } = ct;
  const parts = [ctx, alpha, beta, u32le(lo), u32le(hi)];
  let total = 0n;
  for (let j = 0; j < k; j++) {
    const cb = cs[j];
    const zb = zs[j];
    const ci = g.scInt(cb);
    if (ci >= g.L || g.scInt(zb) >= g.L) throw new CryptoError('CRYPTO_BAD_SCALAR', `${what} has a non-canonical scalar`);
    total += ci;
    const mj = lo + j;
    const bm = mj === 0 ? beta : g.sub(beta, g.smallMultiple(mj));
    parts.push(g.sub(g.base(zb), g.mul(cb, alpha)));
    parts.push(g.sub(g.mul(zb, key), g.mul(cb, bm)));
  }
  if (total % g.L !== g.hashToScalar('crypto/range', ...parts)) throw bad(what);
}
