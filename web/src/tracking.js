// Tracking codes as a voter types, reads and keeps them (node/ballotbox.py is the node's side).
//
// A tracking code is the transaction hash, 64 hex digits. Its short form, for reading out
// and for checking where it is unique, is the first 16 digits in 4 groups of 4. What a
// voter types is cleaned (spaces, dashes, full-width spaces, case) and checked before
// anything is asked of a node, so a wrong paste gets one plain sentence, never a garbled page.

import { SHORT_LEN } from './constants.js';

export { SHORT_LEN };
const HEX = /^[0-9a-f]+$/;
// the mailed voting code: 4 groups of 4 from a 32-letter alphabet (ballot_tx/eligibility)
const VOTING_CODE = /^[0-9a-z]{16}$/;

/** What was typed, without spaces and dashes, lowercase. */
export const cleanCode = (typed) => String(typed).replace(/[\s\-\u3000\u2010-\u2015\u30fc]+/g, '').toLowerCase();

/** The short form: the first 16 hex digits in groups of 4. */
export const shortCode = (code) => code.slice(0, SHORT_LEN).match(/.{4}/g).join(' ');

/** The full code in 4 lines of 16 (easier to compare than one run of 64). */
export const groupedCode = (code) => code.match(/.{1,16}/g).join(' ');

/**
 * Why `typed` cannot be a tracking code, or null if it can (full, or a short form of
 * 16 to 63 digits): 'empty', 'voting_code' (it has the shape of the mailed voting code),
 * or 'format'.
 */
export function codeProblem(typed) {
  const s = cleanCode(typed);
  if (s === '') return 'empty';
  if (HEX.test(s) && s.length >= SHORT_LEN && s.length <= 64) return null;
  if (VOTING_CODE.test(s)) return 'voting_code';
  return 'format';
}

/** The text a voter saves in a file: what to keep, and how to check it. */
export function receiptFileText({ code, electionId, chainId, title, checkUrl }) {
  return [
    `${title}`,
    `tracking code / 追跡コード: ${code}`,
    `short form / 短い形: ${shortCode(code)}`,
    `election / 選挙: ${electionId}`,
    `chain fingerprint / 指紋: ${shortCode(chainId)}`,
    `check / 確認: ${checkUrl}`,
    '',
  ].join('\n');
}
