// Readings (yomi) inside Japanese labels, as ruby (mirror of ballot_tx/yomi.py):
// "｜洞峰《どうほう》公園" or "洞峰《どうほう》公園". Shown with <ruby>, dropped in plain text.

const KANA = '[\\u3041-\\u3096\\u309d\\u309e\\u30a1-\\u30fa\\u30fc\\u30fd\\u30fe\\u3000 ・]+';
const KANJI = '[\\u3005\\u3006\\u3007\\u303b\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff]+';
const RUBY = new RegExp(`｜([^｜《》]+)《(${KANA})》|(${KANJI})《(${KANA})》`, 'gu');

/** [[base, reading | null], ...] */
export function segments(text) {
  const out = [];
  let pos = 0;
  for (const m of String(text).matchAll(RUBY)) {
    if (m.index > pos) out.push([text.slice(pos, m.index), null]);
    out.push(m[1] !== undefined ? [m[1], m[2]] : [m[3], m[4]]);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) out.push([text.slice(pos), null]);
  return out;
}

export const plain = (text) => segments(text).map(([b]) => b).join('');
export const spoken = (text) => segments(text).map(([b, r]) => r ?? b).join('');
