"""Identity keys: Ed25519 for signatures, X25519 for encrypted share delivery.

Every signature in Ballotchain is over ``signing_bytes(kind, chain_id, body)``:
a per-kind domain, the chain id (the genesis hash, so a signature is valid on
one chain only) and the canonical body. This module is pure: reading and
writing key files is in ``KeyFile`` helpers that take and return bytes/text;
the CLI does the file I/O (see ``cli.keyfile``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.public import PrivateKey

from ballot_tx.codec import domain, hash_bytes
from ballot_tx.errors import ErrorCode, KeyError_

KEY_FILE_TYPE = "ballotchain-key"
KEY_FILE_VERSION = 1
#: argon2id cost for password-protected key files: libsodium's "interactive"
#: limits (2 passes, 64 MiB), which a phone browser can also afford.
ARGON2_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
ARGON2_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


def signing_bytes(kind: str, chain_id: bytes, body: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers."""
    if len(chain_id) != 32:
        raise ValueError("chain_id must be the 32-byte genesis hash")
    return domain("sig/" + kind) + chain_id + body


def node_id(ed25519_public: bytes) -> str:
    """A node's stable, printable id: 20 bytes of a domain-separated key hash, hex."""
    return hash_bytes("node-id", ed25519_public)[:20].hex()


def verify(public: bytes, kind: str, chain_id: bytes, body: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is ``public``'s signature of ``body`` in this kind and chain."""
    if len(public) != 32 or len(signature) != 64:
        return False
    msg = signing_bytes(kind, chain_id, body)
    try:
        sodium.crypto_sign_open(signature + msg, public)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


@dataclass(frozen=True, repr=False)
class KeyPair:
    """A participant's secret keys. ``repr`` never shows secret material."""

    ed25519_seed: bytes
    x25519_secret: bytes

    @staticmethod
    def generate() -> KeyPair:
        return KeyPair(nacl.utils.random(32), bytes(PrivateKey.generate()))

    @staticmethod
    def from_seed(seed: bytes) -> KeyPair:
        """Deterministic keys from a 32-byte seed (test vectors and localnets only)."""
        if len(seed) != 32:
            raise ValueError("seed must be 32 bytes")
        return KeyPair(hash_bytes("seed/ed25519", seed), hash_bytes("seed/x25519", seed))

    @cached_property
    def _ed25519_pair(self) -> tuple[bytes, bytes]:
        # Derived once per KeyPair: a derivation costs as much as a signature, and a node
        # signs every peer envelope and consensus message.
        pk, sk = sodium.crypto_sign_seed_keypair(self.ed25519_seed)
        return pk, sk

    @property
    def ed25519_public(self) -> bytes:
        return self._ed25519_pair[0]

    @property
    def x25519_public(self) -> bytes:
        return bytes(PrivateKey(self.x25519_secret).public_key)

    @property
    def node_id(self) -> str:
        return node_id(self.ed25519_public)

    def sign(self, kind: str, chain_id: bytes, body: bytes) -> bytes:
        signed = sodium.crypto_sign(signing_bytes(kind, chain_id, body), self._ed25519_pair[1])
        return signed[:64]

    def __repr__(self) -> str:
        return f"KeyPair(node_id={self.node_id})"


def _pub_fields(keys: KeyPair) -> dict[str, str]:
    return {
        "ed25519_public": keys.ed25519_public.hex(),
        "x25519_public": keys.x25519_public.hex(),
        "node_id": keys.node_id,
    }


def dump_key_file(keys: KeyPair, password: bytes | None = None) -> str:
    """Serialize keys to the key-file JSON text, sealed with argon2id+SecretBox if a password is given."""
    secret = keys.ed25519_seed + keys.x25519_secret
    doc: dict[str, object] = {"type": KEY_FILE_TYPE, "version": KEY_FILE_VERSION}
    doc.update(_pub_fields(keys))
    if password:
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, password, salt, ARGON2_OPSLIMIT, ARGON2_MEMLIMIT
        )
        sealed = bytes(nacl.secret.SecretBox(key).encrypt(secret))
        doc["encryption"] = {
            "kdf": "argon2id13",
            "opslimit": ARGON2_OPSLIMIT,
            "memlimit": ARGON2_MEMLIMIT,
            "salt": salt.hex(),
            "cipher": "xsalsa20poly1305",
        }
        doc["secret"] = sealed.hex()
    else:
        doc["encryption"] = None
        doc["secret"] = secret.hex()
        doc["secret_check"] = _secret_check(secret)
    return json.dumps(doc, indent=2) + "\n"


def _secret_check(secret: bytes) -> str:
    """Checksum of an unencrypted secret: X25519 clamps its scalar, so some damage to the
    X25519 secret leaves the public key unchanged and could not be caught otherwise."""
    return hash_bytes("keyfile-check", secret)[:8].hex()


def _malformed(why: str) -> KeyError_:
    return KeyError_(ErrorCode.KEY_FILE_MALFORMED, f"not a valid Ballotchain key file: {why}")


def is_encrypted(text: str) -> bool:
    try:
        return bool(json.loads(text).get("encryption"))
    except (ValueError, AttributeError):
        return False


def load_key_file(text: str, password: bytes | None = None) -> KeyPair:
    """Parse key-file JSON; any damage or a wrong password is a ``KeyError_`` with a clear code."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise _malformed("not JSON") from None
    if not isinstance(doc, dict) or doc.get("type") != KEY_FILE_TYPE:
        raise _malformed("missing type 'ballotchain-key'")
    if doc.get("version") != KEY_FILE_VERSION:
        raise _malformed(f"unsupported version {doc.get('version')!r}")
    try:
        secret_field = bytes.fromhex(doc["secret"])
        enc = doc["encryption"]
    except (KeyError, TypeError, ValueError):
        raise _malformed("secret field missing or not hex") from None
    if enc:
        if not password:
            raise KeyError_(ErrorCode.KEY_PASSWORD_REQUIRED, "this key file is encrypted: give its password")
        try:
            salt = bytes.fromhex(enc["salt"])
            key = nacl.pwhash.argon2id.kdf(
                nacl.secret.SecretBox.KEY_SIZE,
                password,
                salt,
                int(enc["opslimit"]),
                int(enc["memlimit"]),
            )
        except (KeyError, TypeError, ValueError, nacl.exceptions.CryptoError):
            raise _malformed("encryption parameters damaged") from None
        try:
            secret = nacl.secret.SecretBox(key).decrypt(secret_field)
        except nacl.exceptions.CryptoError:
            raise KeyError_(
                ErrorCode.KEY_WRONG_PASSWORD,
                "wrong password (or the encrypted part of the key file is damaged)",
            ) from None
    else:
        secret = secret_field
        if doc.get("secret_check") != _secret_check(secret):
            raise _malformed("secret does not match its checksum (file damaged?)")
    if len(secret) != 64:
        raise _malformed("secret has the wrong length")
    keys = KeyPair(secret[:32], secret[32:])
    expected = _pub_fields(keys)
    for name, value in expected.items():
        if doc.get(name) != value:
            raise _malformed(f"field {name} does not match the secret key (file damaged?)")
    return keys


def public_info(text: str) -> dict[str, str]:
    """The public fields of a key file, readable without its password."""
    try:
        doc = json.loads(text)
        info = {k: str(doc[k]) for k in ("ed25519_public", "x25519_public", "node_id")}
    except (ValueError, KeyError, TypeError):
        raise _malformed("public fields missing") from None
    if doc.get("type") != KEY_FILE_TYPE:
        raise _malformed("missing type 'ballotchain-key'")
    info["encrypted"] = "yes" if doc.get("encryption") else "no"
    return info
