// The canonical encoding of ballot_tx/codec.py, for the browser.
//
// An object is the msgpack encoding of the list of its fields in declaration
// order, recursively: int -> smallest msgpack int, bool -> true/false, bytes ->
// bin, str -> str (UTF-8), tuple -> array, nested object -> array of its fields,
// optional -> nil or the value, tagged union -> [TAG, [fields]]. No maps, no
// floats: one value has exactly one encoding.
//
// Decoding is strict and follows the Python decoder step by step, so that any
// input gets the same verdict (and the same error code) in both:
//   1. size limit of the class (CODEC_OVERSIZE);
//   2. msgpack parse as python-msgpack does it (CODEC_MALFORMED for bad bytes,
//      truncation, invalid UTF-8, map keys other than str/bin, nesting deeper
//      than 1024 containers; CODEC_TRAILING_BYTES after a complete object);
//   3. only arrays/ints/bools/bin/str/nil, arrays nested at most 64 deep
//      (CODEC_WRONG_TYPE, CODEC_MALFORMED);
//   4. the fields against the schema (CODEC_WRONG_TYPE, CODEC_FIELD_COUNT,
//      CODEC_OUT_OF_RANGE, CODEC_UNKNOWN_TAG);
//   5. re-encoding gives the same bytes (CODEC_NON_CANONICAL).
//
// JavaScript representation: ints decode to Number when safe (else BigInt) and
// encode from either; bytes are Uint8Array; tuples are arrays; an object is a
// plain object with its fields and `$type` (the class name, needed for unions).

import { CodecError } from './errors.js';
import { SCHEMA } from './schema.js';
import { DEFAULT_MAX_SIZE, PLAIN_MAX_DEPTH } from './constants.js';

const C = {
  OVERSIZE: 'CODEC_OVERSIZE',
  MALFORMED: 'CODEC_MALFORMED',
  TRAILING: 'CODEC_TRAILING_BYTES',
  WRONG_TYPE: 'CODEC_WRONG_TYPE',
  FIELD_COUNT: 'CODEC_FIELD_COUNT',
  OUT_OF_RANGE: 'CODEC_OUT_OF_RANGE',
  NON_CANONICAL: 'CODEC_NON_CANONICAL',
  UNKNOWN_TAG: 'CODEC_UNKNOWN_TAG',
};

export { DEFAULT_MAX_SIZE };
const MSGPACK_MAX_DEPTH = 1024; // python-msgpack's unpacker stack

// Values the strict parser may produce that the canonical form never holds.
class Unallowed {
  constructor(what) {
    this.what = what;
  }
}

const err = (code, path, what) => new CodecError(code, `${path || 'value'}: ${what}`);

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encodeUtf8(s) {
  if (LONE_SURROGATE.test(s)) throw new CodecError(C.WRONG_TYPE, 'string has a lone surrogate');
  return utf8enc.encode(s);
}

// --- msgpack writer --------------------------------------------------------------

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.n = 0;
  }
  room(k) {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  byte(x) {
    this.room(1);
    this.buf[this.n++] = x;
  }
  uint(x, bytes) {
    // big-endian unsigned of `bytes` width; x is a BigInt
    this.room(bytes);
    for (let i = bytes - 1; i >= 0; i--) {
      this.buf[this.n + i] = Number(x & 0xffn);
      x >>= 8n;
    }
    this.n += bytes;
  }
  raw(b) {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  out() {
    return this.buf.slice(0, this.n);
  }
}

function packInt(w, v) {
  if (v >= 0n) {
    if (v < 128n) w.byte(Number(v));
    else if (v < 256n) (w.byte(0xcc), w.uint(v, 1));
    else if (v < 65536n) (w.byte(0xcd), w.uint(v, 2));
    else if (v < 1n << 32n) (w.byte(0xce), w.uint(v, 4));
    else if (v < 1n << 64n) (w.byte(0xcf), w.uint(v, 8));
    else throw new CodecError(C.OUT_OF_RANGE, `integer ${v} is too large for msgpack`);
  } else {
    if (v >= -32n) w.byte(Number(v & 0xffn));
    else if (v >= -128n) (w.byte(0xd0), w.uint(BigInt.asUintN(8, v), 1));
    else if (v >= -32768n) (w.byte(0xd1), w.uint(BigInt.asUintN(16, v), 2));
    else if (v >= -(1n << 31n)) (w.byte(0xd2), w.uint(BigInt.asUintN(32, v), 4));
    else if (v >= -(1n << 63n)) (w.byte(0xd3), w.uint(BigInt.asUintN(64, v), 8));
    else throw new CodecError(C.OUT_OF_RANGE, `integer ${v} is too small for msgpack`);
  }
}

function packLen(w, n, fix, fixMax, f8, f16, f32) {
  if (fix !== null && n <= fixMax) w.byte(fix | n);
  else if (f8 !== null && n < 256) (w.byte(f8), w.uint(BigInt(n), 1));
  else if (n < 65536) (w.byte(f16), w.uint(BigInt(n), 2));
  else (w.byte(f32), w.uint(BigInt(n), 4));
}

function packValue(w, v) {
  if (v === null) w.byte(0xc0);
  else if (v === false) w.byte(0xc2);
  else if (v === true) w.byte(0xc3);
  else if (typeof v === 'bigint') packInt(w, v);
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new CodecError(C.WRONG_TYPE, `${v} is not an integer`);
    packInt(w, BigInt(v));
  } else if (typeof v === 'string') {
    const b = encodeUtf8(v);
    packLen(w, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    w.raw(b);
  } else if (v instanceof Uint8Array) {
    packLen(w, v.length, null, -1, 0xc4, 0xc5, 0xc6);
    w.raw(v);
  } else if (Array.isArray(v)) {
    packLen(w, v.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const x of v) packValue(w, x);
  } else throw new CodecError(C.WRONG_TYPE, `cannot encode ${typeof v}`);
}

/** msgpack bytes of a plain tree (arrays, ints, booleans, Uint8Array, strings, null). */
export function pack(plain) {
  const w = new Writer();
  packValue(w, plain);
  return w.out();
}

// --- strict msgpack reader (python-msgpack semantics) ----------------------------------

class Reader {
  constructor(data) {
    this.d = data;
    this.p = 0;
  }
  need(k) {
    if (k > this.d.length - this.p) throw new CodecError(C.MALFORMED, 'not valid msgpack (ValueError)');
  }
  u(k) {
    this.need(k);
    let x = 0n;
    for (let i = 0; i < k; i++) x = (x << 8n) | BigInt(this.d[this.p + i]);
    this.p += k;
    return x;
  }
  n(k) {
    return Number(this.u(k));
  }
  take(k) {
    this.need(k);
    const b = this.d.slice(this.p, this.p + k);
    this.p += k;
    return b;
  }
  str(k) {
    const b = this.take(k);
    try {
      return utf8dec.decode(b);
    } catch {
      throw new CodecError(C.MALFORMED, 'not valid msgpack (UnicodeDecodeError)');
    }
  }
  array(k, depth) {
    if (depth + 1 > MSGPACK_MAX_DEPTH) throw new CodecError(C.MALFORMED, 'not valid msgpack (nesting)');
    this.need(k); // every element takes at least one byte
    const out = new Array(k);
    for (let i = 0; i < k; i++) out[i] = this.value(depth + 1);
    return out;
  }
  map(k, depth) {
    if (depth + 1 > MSGPACK_MAX_DEPTH) throw new CodecError(C.MALFORMED, 'not valid msgpack (nesting)');
    this.need(2 * k);
    for (let i = 0; i < k; i++) {
      const key = this.value(depth + 1);
      if (!(typeof key === 'string' || key instanceof Uint8Array)) {
        throw new CodecError(C.MALFORMED, 'not valid msgpack (ValueError)');
      }
      this.value(depth + 1);
    }
    return new Unallowed('dict');
  }
  ext(k) {
    const type = Number(BigInt.asIntN(8, this.u(1)));
    const body = this.take(k);
    if (type === -1) {
      // python-msgpack decodes ext -1 as a Timestamp and rejects a malformed one.
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      let ns;
      if (k === 4) ns = 0;
      else if (k === 8) ns = view.getUint32(0) >>> 2;
      else if (k === 12) ns = view.getUint32(0);
      else throw new CodecError(C.MALFORMED, 'not valid msgpack (timestamp)');
      if (ns >= 1e9) throw new CodecError(C.MALFORMED, 'not valid msgpack (timestamp)');
      return new Unallowed('Timestamp');
    }
    // python-msgpack's ExtType refuses the other negative (reserved) types.
    if (type < 0) throw new CodecError(C.MALFORMED, 'not valid msgpack (ext type)');
    return new Unallowed('ExtType');
  }
  value(depth) {
    const b = this.n(1);
    if (b <= 0x7f) return BigInt(b);
    if (b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b <= 0x9f) return this.array(b & 0x0f, depth);
    if (b <= 0xbf) return this.str(b & 0x1f);
    if (b >= 0xe0) return BigInt(b - 256);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.take(this.n(1));
      case 0xc5: return this.take(this.n(2));
      case 0xc6: return this.take(this.n(4));
      case 0xc7: return this.ext(this.n(1));
      case 0xc8: return this.ext(this.n(2));
      case 0xc9: return this.ext(this.n(4));
      case 0xca: this.take(4); return new Unallowed('float');
      case 0xcb: this.take(8); return new Unallowed('float');
      case 0xcc: return this.u(1);
      case 0xcd: return this.u(2);
      case 0xce: return this.u(4);
      case 0xcf: return this.u(8);
      case 0xd0: return BigInt.asIntN(8, this.u(1));
      case 0xd1: return BigInt.asIntN(16, this.u(2));
      case 0xd2: return BigInt.asIntN(32, this.u(4));
      case 0xd3: return BigInt.asIntN(64, this.u(8));
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.n(1));
      case 0xda: return this.str(this.n(2));
      case 0xdb: return this.str(this.n(4));
      case 0xdc: return this.array(this.n(2), depth);
      case 0xdd: return this.array(this.n(4), depth);
      case 0xde: return this.map(this.n(2), depth);
      case 0xdf: return this.map(this.n(4), depth);
      default: throw new CodecError(C.MALFORMED, 'not valid msgpack (FormatError)'); // 0xc1
    }
  }
}

/** Strictly parse msgpack into a plain tree, as ballot_tx.codec.unpack. Ints are BigInt. */
export function unpack(data, maxSize = DEFAULT_MAX_SIZE) {
  if (!(data instanceof Uint8Array)) throw new CodecError(C.WRONG_TYPE, `expected bytes, got ${typeof data}`);
  if (data.length > maxSize) throw new CodecError(C.OVERSIZE, `${data.length} bytes > limit ${maxSize}`);
  const r = new Reader(data);
  const plain = r.value(0);
  if (r.p !== data.length) throw new CodecError(C.TRAILING, `${data.length - r.p} trailing bytes`);
  return plain;
}

/** Reject value kinds the canonical form never contains (ballot_tx.codec._check_plain). */
export function checkPlain(v, depth = 0) {
  if (Array.isArray(v)) {
    if (depth > PLAIN_MAX_DEPTH) throw new CodecError(C.MALFORMED, 'nesting too deep');
    for (const x of v) checkPlain(x, depth + 1);
  } else if (v instanceof Unallowed) {
    throw new CodecError(C.WRONG_TYPE, `${v.what} is not allowed in canonical form`);
  }
}

// --- schema-driven objects --------------------------------------------------------------

const typeName = (v) => {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Unallowed) return v.what;
  return v.$type || typeof v;
};

const isInt = (v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
const codePoints = (s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const fromBig = (v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/** A codec over one schema (the generated SCHEMA by default; tests pass others). */
export function makeCodec(schema) {
  const classes = schema.classes;
  const cls = (name) => {
    const c = classes[name];
    if (!c) throw new TypeError(`unknown wire class ${name}`);
    return c;
  };

  function toPlainT(t, v, path) {
    switch (t[0]) {
      case 'bool':
        if (typeof v !== 'boolean') throw err(C.WRONG_TYPE, path, `expected bool, got ${typeName(v)}`);
        return v;
      case 'int': {
        if (!isInt(v)) throw err(C.WRONG_TYPE, path, `expected int, got ${typeName(v)}`);
        const x = BigInt(v);
        if (x < BigInt(t[1]) || x > BigInt(t[2])) throw err(C.OUT_OF_RANGE, path, `${x} not in [${t[1]}, ${t[2]}]`);
        return x;
      }
      case 'bytes':
      case 'str':
        return checkSeq(t, v, path);
      case 'tuple': {
        if (!Array.isArray(v)) throw err(C.WRONG_TYPE, path, `expected tuple, got ${typeName(v)}`);
        if (t[2] !== null && v.length > t[2]) throw err(C.OUT_OF_RANGE, path, `${v.length} items > ${t[2]}`);
        return v.map((x, i) => toPlainT(t[1], x, `${path}[${i}]`));
      }
      case 'opt':
        return v === null || v === undefined ? null : toPlainT(t[1], v, path);
      case 'union': {
        const name = v && v.$type;
        if (!t[1].includes(name)) throw err(C.WRONG_TYPE, path, `${typeName(v)} is not a union member`);
        return [BigInt(cls(name).tag), objToPlain(name, v, path)];
      }
      case 'obj':
        if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || (v.$type && v.$type !== t[1])) {
          throw err(C.WRONG_TYPE, path, `expected ${t[1]}, got ${typeName(v)}`);
        }
        return objToPlain(t[1], v, path);
      default:
        throw new TypeError(`bad schema type ${t[0]}`);
    }
  }

  function checkSeq(t, v, path) {
    const want = t[0];
    const ok = want === 'bytes' ? v instanceof Uint8Array : typeof v === 'string';
    if (!ok) throw err(C.WRONG_TYPE, path, `expected ${want}, got ${typeName(v)}`);
    const size = want === 'bytes' ? t[1] : null;
    const maxlen = want === 'bytes' ? t[2] : t[1];
    const len = want === 'bytes' ? v.length : codePoints(v);
    if (size !== null && len !== size) throw err(C.OUT_OF_RANGE, path, `length ${len} != ${size}`);
    if (maxlen !== null && len > maxlen) throw err(C.OUT_OF_RANGE, path, `length ${len} > ${maxlen}`);
    return v;
  }

  function objToPlain(name, obj, path) {
    return cls(name).fields.map(([f, t]) => toPlainT(t, obj[f], path ? `${path}.${f}` : f));
  }

  function fromPlainT(t, v, path) {
    switch (t[0]) {
      case 'bool':
        if (typeof v !== 'boolean') throw err(C.WRONG_TYPE, path, `expected bool, got ${typeName(v)}`);
        return v;
      case 'int':
        if (typeof v !== 'bigint') throw err(C.WRONG_TYPE, path, `expected int, got ${typeName(v)}`);
        if (v < BigInt(t[1]) || v > BigInt(t[2])) throw err(C.OUT_OF_RANGE, path, `${v} not in [${t[1]}, ${t[2]}]`);
        return fromBig(v);
      case 'bytes':
      case 'str':
        return checkSeq(t, v, path);
      case 'tuple':
        if (!Array.isArray(v)) throw err(C.WRONG_TYPE, path, `expected array, got ${typeName(v)}`);
        if (t[2] !== null && v.length > t[2]) throw err(C.OUT_OF_RANGE, path, `${v.length} items > ${t[2]}`);
        return v.map((x, i) => fromPlainT(t[1], x, `${path}[${i}]`));
      case 'opt':
        return v === null ? null : fromPlainT(t[1], v, path);
      case 'union': {
        if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'bigint') {
          throw err(C.WRONG_TYPE, path, 'expected [tag, fields]');
        }
        const name = t[1].find((n) => BigInt(cls(n).tag) === v[0]);
        if (name === undefined) throw err(C.UNKNOWN_TAG, path, `unknown tag ${v[0]}`);
        return objFromPlain(name, v[1], path);
      }
      case 'obj':
        return objFromPlain(t[1], v, path);
      default:
        throw new TypeError(`bad schema type ${t[0]}`);
    }
  }

  function objFromPlain(name, v, path) {
    const c = cls(name);
    if (!Array.isArray(v)) throw err(C.WRONG_TYPE, path, `expected ${name} array, got ${typeName(v)}`);
    if (v.length !== c.fields.length) {
      throw err(C.FIELD_COUNT, path, `${name} has ${c.fields.length} fields, got ${v.length}`);
    }
    const obj = { $type: name };
    c.fields.forEach(([f, t], i) => {
      obj[f] = fromPlainT(t, v[i], path ? `${path}.${f}` : f);
    });
    return obj;
  }

  /** The plain list tree of an object (what msgpack encodes). */
  const toPlain = (name, obj) => objToPlain(name, obj, '');
  /** Rebuild an object from its plain tree, checking every field. */
  const fromPlain = (name, plain) => objFromPlain(name, plain, '');

  /** Canonical bytes of an object of class `name`. */
  function encode(name, obj) {
    const data = pack(toPlain(name, obj));
    const max = cls(name).max_size;
    if (data.length > max) throw new CodecError(C.OVERSIZE, `${name} encodes to ${data.length} bytes > ${max}`);
    return data;
  }

  /** Decode canonical bytes into an object of class `name`, or throw CodecError. */
  function decode(name, data) {
    const plain = unpack(data, cls(name).max_size);
    checkPlain(plain);
    const obj = fromPlain(name, plain);
    const again = pack(plain);
    if (again.length !== data.length || again.some((x, i) => x !== data[i])) {
      throw new CodecError(C.NON_CANONICAL, `${name} is not canonically encoded`);
    }
    return obj;
  }

  const kindOf = (name) => cls(name).kind;
  return { encode, decode, toPlain, fromPlain, kindOf, schema };
}

/** The codec of the generated schema (ballot_tx's wire classes). */
export const DEFAULT_CODEC = makeCodec(SCHEMA);
const DEFAULT = DEFAULT_CODEC;
export const encode = DEFAULT.encode;
export const decode = DEFAULT.decode;
export const toPlain = DEFAULT.toPlain;
export const fromPlain = DEFAULT.fromPlain;
export const kindOf = DEFAULT.kindOf;
