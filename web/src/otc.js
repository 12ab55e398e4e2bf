// One-time voting codes on the voter's device, as ballot_tx/eligibility/one_time_code.py:
// normalize what the voter typed (Crockford base-32, Luhn mod 32 check symbol; case,
// dashes, spaces, full-width characters and O/I/L tolerated) and derive the code's
// Ed25519 key: seed = hash_bytes("otc-seed", election_id || salt || code). The code
// itself never leaves the page; the ballot is signed with the derived key.

import { concat, utf8 } from './bytes.js';
import { hashBytes } from './hash.js';
import { KeyPair } from './keys.js';
import { BallotchainError } from './errors.js';
import { CODE_ALPHABET as ALPHABET, CODE_LEN } from './constants.js';

export { ALPHABET, CODE_LEN };
const N = ALPHABET.length;
const ALIASES = { O: '0', I: '1', L: '1' };
const SEPARATORS = new Set(' -_.\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u3000\t');

/** Luhn mod 32 over the alphabet. */
export function checkSymbol(payload) {
  let total = 0;
  let factor = 2;
  for (const ch of Array.from(payload).reverse()) {
    const addend = factor * ALPHABET.indexOf(ch);
    total += Math.floor(addend / N) + (addend % N);
    factor = 3 - factor;
  }
  return ALPHABET[(N - (total % N)) % N];
}

const bad = (why) => new BallotchainError('ELIGIBILITY_BAD_CODE', why);

/** The canonical 16-symbol code for what a person typed, or ELIGIBILITY_BAD_CODE. */
export function normalize(typed) {
  const text = typed.normalize('NFKC').toUpperCase();
  let code = '';
  for (let ch of text) {
    if (SEPARATORS.has(ch)) continue;
    ch = ALIASES[ch] ?? ch;
    if (!ALPHABET.includes(ch)) throw bad(`'${ch}' cannot appear in a voting code`);
    code += ch;
  }
  if (code.length !== CODE_LEN) throw bad(`a voting code has ${CODE_LEN} characters, this one has ${code.length}`);
  if (checkSymbol(code.slice(0, -1)) !== code.slice(-1)) throw bad('the code is mistyped (its check character does not match)');
  return code;
}

/** The voter key a code stands for. */
export const codeKeys = (electionId, salt, typed) =>
  KeyPair.fromSeed(hashBytes('otc-seed', concat(electionId, salt, utf8(normalize(typed)))));
