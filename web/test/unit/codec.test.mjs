// Unit tests of the browser codec that need no Python (node --test; run by tests/web/test_node_unit.py).
import test from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack, makeCodec } from '../../src/codec.js';
import { toHex, fromHex } from '../../src/bytes.js';
import { domain } from '../../src/hash.js';

test('ints take their smallest msgpack form (python-msgpack layout)', () => {
  const cases = [
    [0, '00'], [127, '7f'], [128, 'cc80'], [256, 'cd0100'], [65536, 'ce00010000'],
    [2n ** 32n, 'cf0000000100000000'], [-1, 'ff'], [-32, 'e0'], [-33, 'd0df'],
    [-129, 'd1ff7f'], [-32769, 'd2ffff7fff'], [-(2n ** 31n) - 1n, 'd3ffffffff7fffffff'],
  ];
  for (const [v, hex] of cases) {
    assert.equal(toHex(pack(v)), hex, String(v));
    assert.equal(unpack(fromHex(hex)), BigInt(v));
  }
});

test('strings, bytes and arrays switch forms at the python-msgpack limits', () => {
  assert.equal(toHex(pack('a'.repeat(31))).slice(0, 2), 'bf');
  assert.equal(toHex(pack('a'.repeat(32))).slice(0, 4), 'd920');
  assert.equal(toHex(pack(new Uint8Array(0))), 'c400');
  assert.equal(toHex(pack(new Array(15).fill(1))).slice(0, 2), '9f');
  assert.equal(toHex(pack(new Array(16).fill(1))).slice(0, 6), 'dc0010');
  assert.equal(toHex(pack('é')), 'a2c3a9');
});

test('a schema codec round-trips objects and rejects what Python rejects', () => {
  const schema = {
    classes: {
      A: { kind: 'test/a', max_size: 100, tag: -1, fields: [['n', ['int', '0', '10']], ['s', ['str', 3]], ['o', ['opt', ['obj', 'B']]]] },
      B: { kind: '', max_size: 100, tag: 1, fields: [['b', ['bytes', 2, null]]] },
    },
  };
  const c = makeCodec(schema);
  const a = { n: 7, s: 'ÿÿÿ', o: { b: new Uint8Array([1, 2]) } };
  const data = c.encode('A', a);
  const back = c.decode('A', data);
  assert.equal(back.n, 7);
  assert.equal(back.s, 'ÿÿÿ');
  assert.deepEqual(Array.from(back.o.b), [1, 2]);
  assert.throws(() => c.encode('A', { ...a, n: 11 }), { code: 'CODEC_OUT_OF_RANGE' });
  assert.throws(() => c.encode('A', { ...a, s: 'abcd' }), { code: 'CODEC_OUT_OF_RANGE' });
  assert.throws(() => c.encode('A', { ...a, n: true }), { code: 'CODEC_WRONG_TYPE' });
  assert.throws(() => c.encode('A', { ...a, s: '\ud800' }), { code: 'CODEC_WRONG_TYPE' });
  // 7 as uint8 (cc07) instead of fixint: same value, not canonical
  const nonCanonical = fromHex(toHex(data).replace(/^9307/, '93cc07'));
  assert.throws(() => c.decode('A', nonCanonical), { code: 'CODEC_NON_CANONICAL' });
  assert.throws(() => c.decode('A', fromHex('92070a')), { code: 'CODEC_FIELD_COUNT' });
  assert.throws(() => c.decode('A', new Uint8Array(101)), { code: 'CODEC_OVERSIZE' });
});

test('domains refuse NUL and empty kinds', () => {
  assert.throws(() => domain(''));
  assert.throws(() => domain('a\0b'));
  assert.equal(new TextDecoder().decode(domain('tx')), 'ballotchain/v1/tx\0');
});
