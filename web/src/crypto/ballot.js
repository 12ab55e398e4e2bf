// Encrypted ballots, as ballot_tx/crypto/ballot.py: encryption with validity proofs,
// verification, and the Benaloh audit of a spoiled ballot.
//
// Plaintext layout per contest: single/multiple -- one 0/1 ciphertext per option;
// rating -- 11 ciphertexts per item (one per level, item-major), 1 at the chosen level.
// Proofs under one context ctx: a [0, 1] bit proof per ciphertext; sum proofs --
// single/multiple: the contest's sum in [min, max] (omitted when that is [0, options]);
// rating: each item's 11 levels sum to exactly 1.
//   ctx = SHA-256(domain("crypto/ballot") || election_id || K || u32(len(cred)) || cred
//                 || alpha_1 || beta_1 || ...)

import { sodium } from '../sodium.js';
import { concat, equal, u32le } from '../bytes.js';
import { hashBytes } from '../hash.js';
import { CryptoError } from '../errors.js';
import { checkSelections, contestWidth, electionId, RATING_LEVELS, RATING_STEP } from '../manifest.js';
import * as g from './group.js';
import * as elgamal from './elgamal.js';
import { proveRange, verifyRange } from './proofs.js';

export const LEVELS = RATING_LEVELS.length;
export const MAX_CREDENTIAL = 256;

/** The 0/1 plaintext of each ciphertext of a contest, for valid selections. */
export function plaintexts(c, sel) {
  if (c.kind !== 'rating') return sel.slice();
  const out = [];
  for (const v of sel) {
    const level = Math.floor(v / RATING_STEP);
    for (let lv = 0; lv < LEVELS; lv++) out.push(lv === level ? 1 : 0);
  }
  return out;
}

/** Inverse of plaintexts. */
export function selectionsFromPlaintexts(c, pts) {
  if (c.kind !== 'rating') return pts.slice();
  return c.options.map((_, i) => RATING_STEP * pts.slice(LEVELS * i, LEVELS * (i + 1)).indexOf(1));
}

/** The sum proofs of a contest: [first ciphertext, count, lo, hi] each. */
export function sumRanges(c) {
  if (c.kind === 'rating') return c.options.map((_, i) => [LEVELS * i, LEVELS, 1, 1]);
  const n = c.options.length;
  if (c.min_selections === 0 && c.max_selections === n) return [];
  return [[0, n, c.min_selections, c.max_selections]];
}

/** The 32-byte Fiat-Shamir context of a ballot. */
export function ballotContext(eid, key, credential, contests) {
  const parts = [eid, key, u32le(credential.length), credential];
  for (const ec of contests) for (const ct of ec.ciphertexts) parts.push(ct.alpha, ct.beta);
  return hashBytes('crypto/ballot', concat(...parts));
}

function checkCredential(credential) {
  if (!(credential instanceof Uint8Array) || credential.length < 1 || credential.length > MAX_CREDENTIAL) {
    throw new CryptoError('CRYPTO_WRONG_SHAPE', `credential must be 1..${MAX_CREDENTIAL} bytes`);
  }
}

const contest = (ciphertexts, bitProofs, sumProofs) => ({
  $type: 'EncryptedContest',
  ciphertexts,
  bit_proofs: bitProofs,
  sum_proofs: sumProofs,
});

/**
 * Encrypt selections and prove the ballot valid. Returns { ballot, secrets } (wire
 * objects EncryptedBallot and BallotSecrets). `seed` (32 bytes) makes it deterministic --
 * for test vectors only; by default a fresh random seed is drawn.
 */
export function encryptBallot(manifest, key, credential, selections, seed = null) {
  checkSelections(manifest, selections);
  checkCredential(credential);
  g.point(key, 'election key');
  if (seed === null) seed = sodium.randombytes_buf(32);
  if (seed.length !== 32) throw new TypeError('seed must be 32 bytes');
  const eid = electionId(manifest);
  const cts = [];
  const nonces = [];
  const pts = [];
  manifest.contests.forEach((c, ci) => {
    const p = plaintexts(c, selections[ci]);
    const rs = p.map((_, j) => g.hashToScalar('crypto/ballot-nonce', seed, u32le(ci), u32le(j)));
    cts.push(p.map((m, j) => elgamal.encrypt(key, m, rs[j])));
    nonces.push(rs);
    pts.push(p);
  });
  const bare = cts.map((cl) => contest(cl, [], []));
  const ctx = ballotContext(eid, key, credential, bare);
  const contests = manifest.contests.map((c, ci) => {
    const cl = cts[ci];
    const rs = nonces[ci];
    const p = pts[ci];
    const bits = cl.map((ct, j) => proveRange(ct, key, p[j], rs[j], 0, 1, ctx, seed));
    const sums = sumRanges(c).map(([start, count, lo, hi]) => {
      const total = elgamal.sumCiphertexts(cl.slice(start, start + count));
      const m = p.slice(start, start + count).reduce((a, b) => a + b, 0);
      const r = rs.slice(start, start + count).reduce((a, b) => a + b, 0n);
      return proveRange(total, key, m, r, lo, hi, ctx, seed);
    });
    return contest(cl, bits, sums);
  });
  const ballot = { $type: 'EncryptedBallot', election_id: eid, contests };
  const secrets = {
    $type: 'BallotSecrets',
    selections: selections.map((s) => s.slice()),
    nonces: nonces.map((rs) => rs.map(g.sc)),
  };
  return { ballot, secrets };
}

function checkShape(manifest, ballot) {
  if (ballot.contests.length !== manifest.contests.length) {
    throw new CryptoError(
      'CRYPTO_WRONG_SHAPE',
      `ballot has ${ballot.contests.length} contests, the manifest ${manifest.contests.length}`,
    );
  }
  manifest.contests.forEach((c, i) => {
    const ec = ballot.contests[i];
    const w = contestWidth(c);
    const ns = sumRanges(c).length;
    if (ec.ciphertexts.length !== w || ec.bit_proofs.length !== w || ec.sum_proofs.length !== ns) {
      throw new CryptoError('CRYPTO_WRONG_SHAPE', `contest '${c.id}' needs ${w} ciphertexts, ${w} bit proofs and ${ns} sum proofs`);
    }
  });
}

/** Check a cast ballot; throws CryptoError unless every proof verifies. */
export function verifyBallot(manifest, key, credential, ballot) {
  const eid = electionId(manifest);
  if (!equal(ballot.election_id, eid)) throw new CryptoError('CRYPTO_WRONG_ELECTION', 'the ballot is for another election');
  checkCredential(credential);
  checkShape(manifest, ballot);
  g.point(key, 'election key');
  ballot.contests.forEach((ec, ci) => {
    ec.ciphertexts.forEach((ct, j) => elgamal.check(ct, `contest ${ci} ciphertext ${j}`));
  });
  const ctx = ballotContext(eid, key, credential, ballot.contests);
  manifest.contests.forEach((c, ci) => {
    const ec = ballot.contests[ci];
    const cl = ec.ciphertexts;
    cl.forEach((ct, j) => verifyRange(ec.bit_proofs[j], ct, key, 0, 1, ctx, `contest '${c.id}' bit proof ${j}`));
    sumRanges(c).forEach(([start, count, lo, hi], k) => {
      const total = elgamal.sumCiphertexts(cl.slice(start, start + count));
      verifyRange(ec.sum_proofs[k], total, key, lo, hi, ctx, `contest '${c.id}' sum proof ${k}`);
    });
  });
}

/**
 * Benaloh audit: check that a spoiled ballot is valid and encrypts exactly the revealed
 * selections under the revealed nonces; return those selections.
 */
export function verifySpoiled(manifest, key, credential, ballot, secrets) {
  verifyBallot(manifest, key, credential, ballot);
  const selections = secrets.selections;
  try {
    checkSelections(manifest, selections);
  } catch (e) {
    throw new CryptoError('CRYPTO_SPOILED_MISMATCH', `revealed selections: ${e.detail}`);
  }
  if (secrets.nonces.length !== ballot.contests.length) {
    throw new CryptoError('CRYPTO_WRONG_SHAPE', 'one nonce list per contest is needed');
  }
  manifest.contests.forEach((c, ci) => {
    const ec = ballot.contests[ci];
    const rs = secrets.nonces[ci];
    const p = plaintexts(c, selections[ci]);
    if (rs.length !== ec.ciphertexts.length) throw new CryptoError('CRYPTO_WRONG_SHAPE', `contest '${c.id}': wrong number of nonces`);
    ec.ciphertexts.forEach((ct, j) => {
      const r = g.scalar(rs[j], `contest '${c.id}' nonce ${j}`);
      if (!elgamal.equalCiphertexts(elgamal.encrypt(key, p[j], r), ct)) {
        throw new CryptoError('CRYPTO_SPOILED_MISMATCH', `contest '${c.id}' ciphertext ${j} does not encrypt the revealed selection`);
      }
    });
  });
  return selections;
}
