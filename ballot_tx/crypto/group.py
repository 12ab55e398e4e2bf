"""The prime-order group ristretto255, through libsodium (bundled by ``rbcl``).

Notation used throughout ``ballot_tx.crypto`` (and in docs/crypto.md):

* ``L = 2^252 + 27742317777372353535851937790883648493``, the group order;
* scalars are integers mod ``L``; on the wire a scalar is 32 bytes little-endian
  and MUST be canonical (``< L``), so every proof has exactly one encoding;
* points are 32-byte canonical ristretto255 encodings; ``G`` is the standard
  generator; the identity is written as 32 zero bytes (``IDENTITY``);
* ``s*P`` is scalar multiplication, ``P + Q`` / ``P - Q`` the group law.

Hot paths call libsodium through ``rbcl``'s ctypes handle directly: proof checking
is dominated by scalar multiplications (about 50 us each here) and the thin
wrappers add validation we already did once per wire point. Everything a caller
gets from the wire goes through ``point()`` / ``scalar_bytes()`` first, so libsodium
only ever sees canonical inputs.

Why canonical encodings need an explicit check: RFC 9496 section 4.3.1 (Decode) rejects a
string that is not the canonical encoding of a field element (value >= p = 2^255 - 19,
or bit 255 set) or whose element is negative (low bit set). rbcl bundles libsodium
1.0.18, whose ``is_valid_point`` checks ``< p`` and the sign on the low 255 bits but
ignores bit 255 (fixed in later libsodium): every point would have a second encoding
the chain accepts while the voting page's libsodium.js (and any RFC 9496 decoder)
refuses it. ``point()`` / ``is_point()`` therefore also refuse bit 255 set; that is the
only check libsodium 1.0.18 is missing (tests/vectors/crypto/point_encodings.json holds
the RFC's invalid encodings and the top-bit ones, and Python and JavaScript are tested
to agree on every one).

Why the identity needs care: libsodium's ``crypto_scalarmult_ristretto255`` returns
-1 when the result is the identity; we treat that as the identity (its output buffer
is left zeroed, which is the identity's encoding). ``point()`` rejects the
identity (libsodium's ``is_valid_point`` accepts it), which is right for ciphertexts and keys from voters and trustees; a tally
over zero ballots or a decrypted count of zero is the identity and is allowed where
the caller says so.
"""

from __future__ import annotations

import ctypes
import hashlib
from functools import lru_cache

from ballot_tx.codec import domain
from ballot_tx.crypto import point_sums
from ballot_tx.crypto.sodium import _sodium
from ballot_tx.errors import CryptoError, ErrorCode

#: Order of the ristretto255 group.
L = 2**252 + 27742317777372353535851937790883648493
#: Encoding of the identity element.
IDENTITY = bytes(32)

_lib = _sodium
_new = ctypes.c_char * 32  # a fresh zeroed 32-byte buffer per call: _new()


def _mul_raw(s: bytes, p: bytes) -> bytes:
    out = _new()
    _lib.crypto_scalarmult_ristretto255(out, s, p)  # -1 => identity, out stays zeroed
    return out.raw


def _base_raw(s: bytes) -> bytes:
    out = _new()
    _lib.crypto_scalarmult_ristretto255_base(out, s)
    return out.raw


#: The standard generator G (= 1*G).
G = _base_raw((1).to_bytes(32, "little"))


# --- scalars -----------------------------------------------------------------


def sc(x: int) -> bytes:
    """Canonical 32-byte encoding of the scalar ``x mod L``."""
    return (x % L).to_bytes(32, "little")


def sc_int(b: bytes) -> int:
    """Integer value of a 32-byte scalar encoding (no canonicity check)."""
    return int.from_bytes(b, "little")


def scalar_bytes(b: bytes, what: str = "scalar") -> bytes:
    """Check a scalar from the wire is canonical (32 bytes, < L) and return it."""
    if len(b) != 32 or int.from_bytes(b, "little") >= L:
        raise CryptoError(ErrorCode.CRYPTO_BAD_SCALAR, f"{what} is not a canonical scalar")
    return b


def scalar(b: bytes, what: str = "scalar") -> int:
    """Integer value of a canonical scalar from the wire (raises CRYPTO_BAD_SCALAR)."""
    if len(b) != 32:
        raise CryptoError(ErrorCode.CRYPTO_BAD_SCALAR, f"{what} is not a canonical scalar")
    x = int.from_bytes(b, "little")
    if x >= L:
        raise CryptoError(ErrorCode.CRYPTO_BAD_SCALAR, f"{what} is not a canonical scalar")
    return x


# --- points ------------------------------------------------------------------


def _canonical_point(p: bytes) -> bool:
    """RFC 9496 section 4.3.1 decoding succeeds for the 32 bytes ``p``.

    libsodium 1.0.18 checks everything but bit 255 (see module doc), so that bit is
    checked here first.
    """
    if p[31] & 0x80:
        return False
    shared = point_sums.decodes_shared(p)  # the audit: one decode for this check and the tally
    if shared is not None:
        return shared
    return bool(_lib.crypto_core_ristretto255_is_valid_point(p) == 1)


def is_point(p: bytes) -> bool:
    """True iff ``p`` is a canonical encoding of a non-identity ristretto255 point."""
    return len(p) == 32 and p != IDENTITY and _canonical_point(p)


def point(p: bytes, what: str = "point", allow_identity: bool = False) -> bytes:
    """Check a point from the wire; raise CRYPTO_BAD_POINT naming ``what`` if invalid."""
    if type(p) is not bytes or len(p) != 32:
        raise CryptoError(ErrorCode.CRYPTO_BAD_POINT, f"{what} must be 32 bytes")
    if p == IDENTITY:
        if allow_identity:
            return p
        raise CryptoError(ErrorCode.CRYPTO_BAD_POINT, f"{what} must not be the identity")
    if not _canonical_point(p):
        raise CryptoError(
            ErrorCode.CRYPTO_BAD_POINT, f"{what} is not a canonical ristretto255 point"
        )
    return p


def mul(s: bytes, p: bytes) -> bytes:
    """``s*P`` for a canonical scalar encoding and a valid point (or the identity)."""
    return _mul_raw(s, p)


def base(s: bytes) -> bytes:
    """``s*G`` for a canonical scalar encoding (fixed-base table, ~3x faster than mul)."""
    return _base_raw(s)


def add(p: bytes, q: bytes) -> bytes:
    """``P + Q`` (either may be the identity)."""
    out = _new()
    _lib.crypto_core_ristretto255_add(out, p, q)
    return out.raw


def sub(p: bytes, q: bytes) -> bytes:
    """``P - Q`` (either may be the identity)."""
    out = _new()
    _lib.crypto_core_ristretto255_sub(out, p, q)
    return out.raw


def neg(p: bytes) -> bytes:
    """``-P``."""
    return sub(IDENTITY, p)


def sum_points(points: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The sum of a sequence of valid points (the identity for an empty one), each
    decoded once (``point_sums``)."""
    if not points:
        return IDENTITY
    if len(points) == 1:
        return points[0]
    return point_sums.sum_points(points)


@lru_cache(maxsize=4096)
def small_multiple(m: int) -> bytes:
    """``m*G`` for a small non-negative integer (cached: vote values and counts)."""
    return _base_raw(sc(m))


# --- hashing into the group ----------------------------------------------------


def hash_to_scalar(kind: str, *parts: bytes) -> int:
    """``SHA-512(domain(kind) || parts...) mod L`` (Fiat-Shamir challenges, derived nonces).

    The parts are concatenated without lengths: every caller hashes fixed-length
    fields only, or a canonical msgpack encoding.
    """
    h = hashlib.sha512(domain(kind))
    for part in parts:
        h.update(part)
    return int.from_bytes(h.digest(), "little") % L


def hash_to_point(kind: str, *parts: bytes) -> bytes:
    """Ristretto255 ``from_hash(SHA-512(domain(kind) || parts...))``: a generator nobody
    knows the discrete log of (Elligator map, as in RFC 9496 hash_to_ristretto255)."""
    h = hashlib.sha512(domain(kind))
    for part in parts:
        h.update(part)
    out = _new()
    _lib.crypto_core_ristretto255_from_hash(out, h.digest())
    return out.raw
