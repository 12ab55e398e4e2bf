// The page reads label readings exactly as ballot_tx/yomi.py does (same cases as tests/ballot_tx/test_yomi.py).
import test from 'node:test';
import assert from 'node:assert/strict';
import { segments, plain, spoken } from '../../src/yomi.js';

test('ruby with and without the start mark, and whole-label readings', () => {
  assert.deepEqual(segments('｜洞峰《どうほう》公園'), [['洞峰', 'どうほう'], ['公園', null]]);
  // without ｜ the reading belongs to the kanji run just before 《 (Aozora Bunko rule)
  assert.deepEqual(segments('つくば市洞峰《どうほう》公園'), [['つくば', null], ['市洞峰', 'どうほう'], ['公園', null]]);
  assert.equal(plain('｜洞峰公園《どうほうこうえん》'), '洞峰公園');
  assert.equal(spoken('｜洞峰公園《どうほうこうえん》'), 'どうほうこうえん');
});

test('what is not ruby stays text', () => {
  for (const t of ['研究学園', 'A《b》', '｜洞峰《doho》', '《どうほう》', 'Doho Park']) {
    assert.equal(plain(t), t, t);
    assert.equal(spoken(t), t, t);
  }
});
