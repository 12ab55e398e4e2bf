// Identity keys and key files, as ballot_tx/keys.py.
//
// Signatures cover "ballotchain/v1/sig/" || kind || 0x00 || chain_id || body.
// A key file is JSON with the public keys, the node id and the secret (Ed25519
// seed || X25519 secret); with a password the secret is sealed with
// XSalsa20-Poly1305 (SecretBox) under an argon2id key, using the opslimit,
// memlimit and salt stored in the file. The browser opens it locally: neither
// the file nor the password ever leaves the page.

import { sodium } from './sodium.js';
import { concat, equal, toHex, pyFromHex } from './bytes.js';
import { domain, hashBytes } from './hash.js';
import { KeyFileError } from './errors.js';
import { KEY_FILE_TYPE, KEY_FILE_VERSION } from './constants.js';

export { KEY_FILE_TYPE, KEY_FILE_VERSION };

/** The exact bytes an Ed25519 signature covers. */
export function signingBytes(kind, chainId, body) {
  if (chainId.length !== 32) throw new TypeError('chain_id must be the 32-byte genesis hash');
  return concat(domain(`sig/${kind}`), chainId, body);
}

/** A node's printable id: 20 bytes of a domain-separated key hash, hex. */
export const nodeId = (ed25519Public) => toHex(hashBytes('node-id', ed25519Public).slice(0, 20));

/** True iff `signature` is `pub`'s signature of `body` in this kind and chain. */
export function verify(pub, kind, chainId, body, signature) {
  if (pub.length !== 32 || signature.length !== 64) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, signingBytes(kind, chainId, body), pub);
  } catch {
    return false;
  }
}

/** A participant's secret keys (Ed25519 seed, X25519 secret). */
export class KeyPair {
  constructor(ed25519Seed, x25519Secret) {
    this.ed25519Seed = ed25519Seed;
    this.x25519Secret = x25519Secret;
    const kp = sodium.crypto_sign_seed_keypair(ed25519Seed);
    this.ed25519Public = kp.publicKey;
    this._sk = kp.privateKey;
    this.x25519Public = sodium.crypto_scalarmult_base(x25519Secret);
  }

  /** Deterministic keys from a 32-byte seed (keys.py KeyPair.from_seed). */
  static fromSeed(seed) {
    if (seed.length !== 32) throw new TypeError('seed must be 32 bytes');
    return new KeyPair(hashBytes('seed/ed25519', seed), hashBytes('seed/x25519', seed));
  }

  get nodeId() {
    return nodeId(this.ed25519Public);
  }

  sign(kind, chainId, body) {
    return sodium.crypto_sign_detached(signingBytes(kind, chainId, body), this._sk);
  }
}

const malformed = (why) => new KeyFileError('KEY_FILE_MALFORMED', `not a valid Ballotchain key file: ${why}`);

// Python truthiness of a JSON value ({} and [] are false there).
const truthy = (v) =>
  !(v === null || v === undefined || v === false || v === 0 || v === '' ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0));

const secretCheck = (secret) => toHex(hashBytes('keyfile-check', secret).slice(0, 8));

// Python's int() of a JSON value: ints, integral strings; bools count as 0/1.
function pyInt(v) {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return Number(v.replace(/_/g, ''));
  throw new TypeError('int()');
}

/** Is this key-file text password-protected? */
export function isEncrypted(text) {
  try {
    const doc = JSON.parse(text);
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && truthy(doc.encryption);
  } catch {
    return false;
  }
}

/** The public fields of a key file, readable without its password. */
export function publicInfo(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('public fields missing');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw malformed('public fields missing');
  const info = {};
  for (const k of ['ed25519_public', 'x25519_public', 'node_id']) {
    if (!(k in doc)) throw malformed('public fields missing');
    info[k] = String(doc[k]);
  }
  if (doc.type !== KEY_FILE_TYPE) throw malformed("missing type 'ballotchain-key'");
  info.encrypted = truthy(doc.encryption) ? 'yes' : 'no';
  return info;
}

/**
 * Open key-file text (with the password for a sealed file); returns a KeyPair or
 * throws KeyFileError with KEY_FILE_MALFORMED, KEY_PASSWORD_REQUIRED or KEY_WRONG_PASSWORD.
 * `password` is a string (UTF-8) or Uint8Array.
 */
export function loadKeyFile(text, password = null) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || doc.type !== KEY_FILE_TYPE) {
    throw malformed("missing type 'ballotchain-key'");
  }
  // Python compares with ==, where True == 1: keep the same verdict.
  if (doc.version !== KEY_FILE_VERSION && doc.version !== true) {
    throw malformed(`unsupported version ${JSON.stringify(doc.version ?? null)}`);
  }
  let sealedOrPlain;
  if (!('secret' in doc) || !('encryption' in doc)) throw malformed('secret field missing or not hex');
  try {
    sealedOrPlain = pyFromHex(doc.secret);
  } catch {
    throw malformed('secret field missing or not hex');
  }
  const enc = doc.encryption;
  let secret;
  const pw = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  if (truthy(enc)) {
    if (!pw || pw.length === 0) {
      throw new KeyFileError('KEY_PASSWORD_REQUIRED', 'this key file is encrypted: give its password');
    }
    let key;
    try {
      if (typeof enc !== 'object' || Array.isArray(enc)) throw new TypeError('encryption');
      const salt = pyFromHex(enc.salt);
      key = sodium.crypto_pwhash(
        sodium.crypto_secretbox_KEYBYTES,
        pw,
        salt,
        pyInt(enc.opslimit),
        pyInt(enc.memlimit),
        sodium.crypto_pwhash_ALG_ARGON2ID13,
      );
    } catch {
      throw malformed('encryption parameters damaged');
    }
    const nb = sodium.crypto_secretbox_NONCEBYTES;
    try {
      if (sealedOrPlain.length < nb) throw new Error('short');
      secret = sodium.crypto_secretbox_open_easy(sealedOrPlain.slice(nb), sealedOrPlain.slice(0, nb), key);
    } catch {
      throw new KeyFileError(
        'KEY_WRONG_PASSWORD',
        'wrong password (or the encrypted part of the key file is damaged)',
      );
    }
  } else {
    secret = sealedOrPlain;
    if (doc.secret_check !== secretCheck(secret)) {
      throw malformed('secret does not match its checksum (file damaged?)');
    }
  }
  if (secret.length !== 64) throw malformed('secret has the wrong length');
  const keys = new KeyPair(secret.slice(0, 32), secret.slice(32));
  const expected = {
    ed25519_public: toHex(keys.ed25519Public),
    x25519_public: toHex(keys.x25519Public),
    node_id: keys.nodeId,
  };
  for (const [name, value] of Object.entries(expected)) {
    if (doc[name] !== value) throw malformed(`field ${name} does not match the secret key (file damaged?)`);
  }
  return keys;
}

export { equal };
