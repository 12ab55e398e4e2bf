// Domain-separated hashing, as ballot_tx/codec.py: SHA-256("ballotchain/v1/" || kind || 0x00 || data).

import { sodium } from './sodium.js';
import { concat, utf8 } from './bytes.js';
import { DEFAULT_CODEC } from './codec.js';
import { DOMAIN_PREFIX } from './constants.js';

export { DOMAIN_PREFIX };

/** Domain-separation prefix for one object kind or hash purpose. */
export function domain(kind) {
  if (!kind || kind.includes('\0')) throw new TypeError('domain kind must be a non-empty string without NUL');
  return utf8(`${DOMAIN_PREFIX}${kind}\0`);
}

/** SHA-256 of `data` under the domain of `kind`. */
export const hashBytes = (kind, data) => sodium.crypto_hash_sha256(concat(domain(kind), data));

/** The identity hash of a wire object of class `name`: SHA-256(domain(KIND) || encode(obj)). */
export function digest(name, obj, codec = DEFAULT_CODEC) {
  const kind = codec.kindOf(name);
  if (!kind) throw new TypeError(`${name} has no KIND; it cannot be hashed on its own`);
  return hashBytes(kind, codec.encode(name, obj));
}
