// What a voter types into the tracking-code box is judged before any node is asked.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cleanCode, codeProblem, shortCode, groupedCode, receiptFileText } from '../../src/tracking.js';

const CODE = '3f2a9c01b7e45d20' + 'ab'.repeat(24);

test('a full code, with spaces, dashes, capitals or full-width spaces, is accepted', () => {
  assert.equal(codeProblem(CODE), null);
  assert.equal(codeProblem(groupedCode(CODE).toUpperCase()), null);
  assert.equal(cleanCode(`  ${CODE.slice(0, 32)}\u3000${CODE.slice(32)}\n`), CODE);
  assert.equal(cleanCode(shortCode(CODE).replaceAll(' ', '-')), '3f2a9c01b7e45d20');
});

test('the short form is the first 4 groups of 4 and is a valid thing to type', () => {
  assert.equal(shortCode(CODE), '3f2a 9c01 b7e4 5d20');
  assert.equal(codeProblem('3F2A 9C01 B7E4 5D20'), null);
  assert.equal(codeProblem('3f2a 9c01 b7e4'), 'format', 'shorter than the short form is refused');
});

test('the voting code typed into the tracking box is recognised as such', () => {
  assert.equal(codeProblem('ABCD-EFGH-JKMN-PQRS'), 'voting_code');
  assert.equal(codeProblem('7KQ2-MX4P-9RTW-3HNV'), 'voting_code');
});

test('anything else is a format problem, and nothing typed is "empty"', () => {
  for (const bad of [CODE + '0', `${CODE.slice(0, 63)}g`, 'https://example.org/x', '投票コード', '<script>']) {
    assert.equal(codeProblem(bad), 'format', bad);
  }
  assert.equal(codeProblem('   '), 'empty');
});

test('the saved file names the code, its short form, the election and how to check', () => {
  const text = receiptFileText({ code: CODE, electionId: 'e'.repeat(64), chainId: 'c'.repeat(64), title: 'T', checkUrl: 'http://n/vote/x?receipt=y' });
  assert.match(text, new RegExp(`tracking code / 追跡コード: ${CODE}`));
  assert.match(text, /short form \/ 短い形: 3f2a 9c01 b7e4 5d20/);
  assert.match(text, /chain fingerprint \/ 指紋: cccc cccc cccc cccc/);
  assert.match(text, /check \/ 確認: http:\/\/n\/vote\/x\?receipt=y/);
});
