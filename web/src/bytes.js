// Byte helpers shared by the client modules.

export const concat = (...parts) => {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

export const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Strict lowercase/uppercase hex of even length (wire and API hex). */
export function fromHex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new TypeError('not a hex string');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Python's bytes.fromhex: pairs of hex digits, ASCII whitespace allowed between pairs. */
export function pyFromHex(s) {
  if (typeof s !== 'string') throw new TypeError('fromhex() argument must be str');
  const out = [];
  const ws = ' \t\n\r\f\v';
  let i = 0;
  while (i < s.length) {
    if (ws.includes(s[i])) {
      i++;
      continue;
    }
    const pair = s.slice(i, i + 2);
    if (pair.length !== 2 || !/^[0-9a-fA-F]{2}$/.test(pair)) throw new TypeError('non-hexadecimal number');
    out.push(parseInt(pair, 16));
    i += 2;
  }
  return Uint8Array.from(out);
}

export const u32le = (x) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x, true);
  return b;
};

export const utf8 = (s) => new TextEncoder().encode(s);
