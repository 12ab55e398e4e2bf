"""Sums of many ristretto255 points, each point decoded once.

Counting is additions: a tally adds every counted ciphertext into a few running sums,
a ballot's range proof sums a contest's ciphertexts. libsodium's
``crypto_core_ristretto255_add`` takes and returns encodings, so each addition decodes
both operands and encodes the result: three inverse square roots, about 13.6 us here,
for work that needs one decode of the new point and a few field multiplications.
libsodium exposes no decoded-point API. libdecaf (Mike Hamburg's library; its
``decaf_255`` group is ristretto255 since release 1.0, RFC 9496 section 4) does:
``PointSums`` keeps its sums decoded (extended coordinates) in libdecaf's point
structures and encodes them only when asked, about 5.4 us per added point here
(``python scripts/bench_crypto.py`` prints both backends).

Two backends, one rule: with libdecaf missing (``scripts/_setup.sh`` installs Debian's
``libdecaf0`` where it may) the sums are kept as encodings and added with libsodium.
Both give the same bytes (tests/ballot_tx/crypto/test_point_sums.py checks them against
each other, RFC 9496's vectors and random points) and both refuse the same inputs: a
point must be a canonical encoding (the identity allowed), else ``CRYPTO_BAD_POINT``.
Callers pass points they have already checked (``group.point``); the refusal is a
second line, so that no backend ever adds garbage silently.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from ballot_tx.crypto.sodium import _sodium
from ballot_tx.errors import CryptoError, ErrorCode

IDENTITY = bytes(32)

# libdecaf's point_255.h: decaf_255_point_t is four field elements (x, y, z, t), each
# 320 bits in 64-bit limbs aligned to 32 bytes: 4 * 64 = 256 bytes, 32-byte aligned.
_POINT_BYTES = 256
_ALIGN = 32
_DECAF_SUCCESS = -1  # decaf_error_t: DECAF_SUCCESS = -1, DECAF_FAILURE = 0
_DECAF_TRUE = 0xFFFFFFFFFFFFFFFF  # decaf_bool_t all ones: the identity is allowed


def _load_decaf() -> ctypes.CDLL | None:
    """libdecaf's shared library, unless absent or ``BALLOTCHAIN_NO_DECAF`` is set (the
    tests run both backends; an operator may pin the libsodium one)."""
    if os.environ.get("BALLOTCHAIN_NO_DECAF"):
        return None
    for name in ("libdecaf.so.0", ctypes.util.find_library("decaf")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            decode = lib.decaf_255_point_decode
        except (OSError, AttributeError):
            continue
        decode.restype = ctypes.c_int
        decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64]
        for op in (lib.decaf_255_point_add, lib.decaf_255_point_sub):
            op.restype = None
            op.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.decaf_255_point_encode.restype = None
        lib.decaf_255_point_encode.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return lib
    return None


_decaf = _load_decaf()
#: Which backend this process uses: "libdecaf" or "libsodium".
BACKEND = "libdecaf" if _decaf is not None else "libsodium"


def _points(n: int) -> tuple[ctypes.Array[ctypes.c_char], int]:
    """Room for ``n`` libdecaf points: the buffer (keep it alive) and its first aligned address."""
    raw = ctypes.create_string_buffer(_POINT_BYTES * n + _ALIGN)
    return raw, (ctypes.addressof(raw) + _ALIGN - 1) & ~(_ALIGN - 1)


# The identity decoded once: new sums start as a copy (a decode costs ~4.5 us).
_IDENTITY_BUFFER, _DECODED_IDENTITY = _points(1)
if _decaf is not None and _decaf.decaf_255_point_decode(_DECODED_IDENTITY, IDENTITY, _DECAF_TRUE) != _DECAF_SUCCESS:
    raise RuntimeError("libdecaf refuses the identity's encoding")


def _bad(p: bytes) -> CryptoError:
    return CryptoError(
        ErrorCode.CRYPTO_BAD_POINT, f"a summed point is not a canonical ristretto255 point ({p.hex()[:16]}…)"
    )


#: Points decoded elsewhere, by their encoding: libdecaf's decoded form of exactly those
#: 32 bytes (``remember_decoded``), in two generations of at most ``KNOWN_MAX // 2`` each.
#: When the young one is full it becomes the old one and the old one is dropped, so at
#: most ``KNOWN_MAX`` are kept and at least the newest ``KNOWN_MAX // 2``. (Evicting one
#: by one from the front of a dict was 16 us per ballot here: a dict's iterator skips the
#: deleted slots left at its front, so the scan grows until the next resize.)
_KNOWN: dict[bytes, bytes] = {}
_KNOWN_OLD: dict[bytes, bytes] = {}
KNOWN_MAX = 1 << 15


class _DecodedRing:
    """The last ``size`` points decoded, by encoding, in one aligned buffer (oldest
    overwritten first). A cache, valid by construction: a decoding is a pure function
    of the 32 bytes, and an encoding that does not decode is never kept."""

    def __init__(self, size: int) -> None:
        self._raw, base = _points(size)
        self._addr = [base + _POINT_BYTES * i for i in range(size)]
        self._keys: list[bytes | None] = [None] * size
        self._index: dict[bytes, int] = {}
        self._next = 0

    def decoded(self, p: bytes) -> int:
        """The address of ``p`` decoded (decoded into the oldest slot on a miss)."""
        i = self._index.get(p)
        if i is not None:
            return self._addr[i]
        i = self._next
        old = self._keys[i]
        if old is not None:
            del self._index[old]
            self._keys[i] = None
        _load_into(self._addr[i], p)  # raises for a bad encoding: nothing kept
        self._keys[i] = p
        self._index[p] = i
        self._next = (i + 1) % len(self._addr)
        return self._addr[i]


#: This thread's ring while ``sharing_decodes()`` runs (a context variable: every thread
#: starts with its own, empty context).
_shared_ring: ContextVar[_DecodedRing | None] = ContextVar("ballotchain_shared_ring", default=None)


#: The ring ``sharing_decodes(keep=True)`` left on this thread for its next block.
_kept_ring: ContextVar[_DecodedRing | None] = ContextVar("ballotchain_kept_ring", default=None)


@contextmanager
def sharing_decodes(size: int = 1024, *, keep: bool = False) -> Iterator[None]:
    """Inside this ``with`` block, sums on this thread reuse the points decoded lately.

    For a reader that adds the same points to two sums in turn: the audit's replay adds
    a ballot to the state's running tally and then to its own recount (``replay.py``),
    one decode for both instead of one each. Per thread (a context variable), because a
    decode runs outside the GIL: two threads must never decode into one shared slot. Off
    by default: a validator adds each point once, and would only pay for the lookups.

    ``keep``: the ring outlives the block and the next ``keep`` block on this thread
    starts with it (a verification worker, called every few ballots: a new ring costs
    ~64 us). Valid for the same reason as the ring itself: a decoding depends on the
    encoding alone."""
    ring = None
    if _shared_ring.get() is None and _decaf is not None:
        ring = _kept_ring.get() if keep else None
        if ring is None or len(ring._addr) != size:
            ring = _DecodedRing(size)
            if keep:
                _kept_ring.set(ring)
    token = _shared_ring.set(ring) if ring is not None else None
    try:
        yield
    finally:
        if token is not None:
            _shared_ring.reset(token)


def _load_into(where: int, p: bytes) -> None:
    """``p`` decoded at address ``where``: copied from a form a worker decoded
    (``remember_decoded``), else decoded here (``CRYPTO_BAD_POINT`` if it does not)."""
    form = _KNOWN.get(p)
    if form is None:
        form = _KNOWN_OLD.get(p)
    if form is not None:
        ctypes.memmove(where, form, _POINT_BYTES)
    else:
        _decode_into(where, p)


def _decode_into(where: int, p: bytes) -> None:
    """Decode ``p`` into the point at address ``where``, or raise ``CRYPTO_BAD_POINT``."""
    assert _decaf is not None
    if len(p) != 32 or _decaf.decaf_255_point_decode(where, p, _DECAF_TRUE) != _DECAF_SUCCESS:
        raise _bad(p)


def decodes_shared(p: bytes) -> bool | None:
    """While this thread shares decodes: whether ``p`` is a canonical encoding (identity
    allowed), decoding it into the ring so that a sum adding it next finds it there. None
    when this thread does not share decodes (the caller checks as usual).

    The audit's replay checks a ballot's points (``group.point``) and then adds them to
    the running tally: one decode for both. libdecaf refuses exactly the encodings
    libsodium does (tests/ballot_tx/crypto/test_point_sums.py)."""
    ring = _shared_ring.get()
    if ring is None:
        return None
    try:
        ring.decoded(p)
    except CryptoError:
        return False
    return True


def export_decoded(points: Sequence[bytes]) -> bytes | None:
    """While this thread shares decodes: the decoded forms of ``points`` (``_POINT_BYTES``
    each, in order), from the ring where a check just decoded them; None otherwise.

    A node's verification worker checks a ballot's points (``group.point``, which decodes
    them into the ring) and hands their decoded forms to the event loop with its verdict,
    so that the loop's running tally adds them without decoding them again
    (``remember_decoded``): in executing a 5-option ballot whose proofs were checked
    (0.120 ms, ``scripts/bench_apply``'s memoised apply) its ten decodes at ~5 us were
    about 0.05 ms. A point that does not decode raises
    ``CRYPTO_BAD_POINT``: forms exist only for canonical encodings."""
    ring = _shared_ring.get()
    if ring is None:
        return None
    return b"".join(ctypes.string_at(ring.decoded(p), _POINT_BYTES) for p in points)


def remember_decoded(points: Sequence[bytes], forms: bytes) -> None:
    """Keep the decoded forms ``export_decoded`` gave for ``points``; a sum adding one of
    them copies it instead of decoding it.

    Valid because a form is a pure function of the 32 bytes it is keyed by, computed by
    this same library (a worker process of this node, or this process); the caller vouches
    for that, as it does for a worker's verdicts. Forms of the wrong size are ignored."""
    global _KNOWN, _KNOWN_OLD
    n = len(points)
    if _decaf is None or len(forms) != _POINT_BYTES * n:
        return
    half = max(KNOWN_MAX // 2, 1)
    if n > half:  # (the newest only)
        points, forms, n = points[n - half:], forms[_POINT_BYTES * (n - half):], half
    if len(_KNOWN) + n > half:
        _KNOWN_OLD, _KNOWN = _KNOWN, {}
    step = _POINT_BYTES
    _KNOWN.update(zip(points, [forms[i:i + step] for i in range(0, n * step, step)], strict=True))


def known_points() -> set[bytes]:
    """The encodings whose forms are kept now (tests)."""
    return {*_KNOWN_OLD, *_KNOWN}


def forget_known() -> None:
    """Forget every remembered form (tests, benchmarks that must decode cold)."""
    _KNOWN.clear()
    _KNOWN_OLD.clear()


class _DecafSums:
    """``n`` sums held decoded in one aligned buffer, plus a scratch point."""

    def __init__(self, n: int) -> None:
        self._raw, base = _points(n + 1)
        self._scratch = base
        self._slots = [base + _POINT_BYTES * (i + 1) for i in range(n)]
        for slot in self._slots:
            ctypes.memmove(slot, _DECODED_IDENTITY, _POINT_BYTES)

    def set(self, i: int, p: bytes) -> None:
        _decode_into(self._slots[i], p)

    def _point(self, p: bytes) -> int:
        """The address of ``p`` decoded: from this thread's ring while decodes are shared,
        else copied from a remembered form, else decoded into the scratch point."""
        ring = _shared_ring.get()
        if ring is not None:
            return ring.decoded(p)
        _load_into(self._scratch, p)
        return self._scratch

    def add(self, i: int, p: bytes) -> None:
        assert _decaf is not None
        _decaf.decaf_255_point_add(self._slots[i], self._slots[i], self._point(p))

    def sub(self, i: int, p: bytes) -> None:
        assert _decaf is not None
        _decaf.decaf_255_point_sub(self._slots[i], self._slots[i], self._point(p))

    def encoded(self) -> list[bytes]:
        assert _decaf is not None
        out = ctypes.create_string_buffer(32)
        sums = []
        for slot in self._slots:
            _decaf.decaf_255_point_encode(out, slot)
            sums.append(out.raw)
        return sums


class _SodiumSums:
    """``n`` sums kept as encodings, added with libsodium (one call per point)."""

    def __init__(self, n: int) -> None:
        self._sums = [IDENTITY] * n

    def set(self, i: int, p: bytes) -> None:
        self._sums[i] = IDENTITY
        self.add(i, p)  # the addition checks ``p`` as it would any added point

    def _op(self, fn: Callable[[ctypes.Array[ctypes.c_char], bytes, bytes], int], i: int, p: bytes) -> None:
        if len(p) != 32 or p[31] & 0x80:  # bit 255: see group.py's module doc (libsodium 1.0.18 ignores it)
            raise _bad(p)
        out = ctypes.create_string_buffer(32)
        if fn(out, self._sums[i], p) != 0:  # -1: an operand is not a valid encoding
            raise _bad(p)
        self._sums[i] = out.raw

    def add(self, i: int, p: bytes) -> None:
        self._op(_sodium.crypto_core_ristretto255_add, i, p)

    def sub(self, i: int, p: bytes) -> None:
        self._op(_sodium.crypto_core_ristretto255_sub, i, p)

    def encoded(self) -> list[bytes]:
        return list(self._sums)


class PointSums:
    """``n`` running sums of points, all starting at the identity (or at ``start``).

    ``add(i, p)`` / ``sub(i, p)`` change sum ``i``; ``encoded()`` returns every sum's
    canonical encoding. One decode per point with libdecaf; see the module doc."""

    __slots__ = ("_impl", "add", "sub")

    def __init__(self, n: int, start: Sequence[bytes] | None = None, *, backend: str | None = None) -> None:
        which = backend or BACKEND
        if which == "libdecaf" and _decaf is None:
            raise RuntimeError("libdecaf is not installed (apt-get install libdecaf0)")
        self._impl: _DecafSums | _SodiumSums = _DecafSums(n) if which == "libdecaf" else _SodiumSums(n)
        self.add = self._impl.add  # bound once: these run once per counted point
        self.sub = self._impl.sub
        if start is not None:
            if len(start) != n:
                raise ValueError(f"{len(start)} starting points for {n} sums")
            for i, p in enumerate(start):
                self._impl.set(i, p)

    def encoded(self) -> list[bytes]:
        return self._impl.encoded()


def sum_points(points: Sequence[bytes], *, backend: str | None = None) -> bytes:
    """The sum of ``points`` (the identity for none)."""
    if not points:
        return IDENTITY
    sums = PointSums(1, points[:1], backend=backend)
    add = sums.add
    for p in points[1:]:
        add(0, p)
    return sums.encoded()[0]
