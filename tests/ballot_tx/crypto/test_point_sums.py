"""``point_sums``: both backends (libdecaf, decoded sums; libsodium, pairwise additions)
give the same bytes and refuse the same inputs, so which one a node or an auditor has
installed never changes a tally, a proof's verdict or a state root."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballot_tx.crypto import group as g
from ballot_tx.crypto import point_sums
from ballot_tx.crypto.point_sums import PointSums, sum_points
from ballot_tx.errors import CryptoError, ErrorCode
from tests.conftest import skip_unless_setup_installs

ENCODINGS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "crypto" / "point_encodings.json").read_text()
)
#: The backends this machine has: libsodium always (rbcl bundles it), libdecaf where installed.
BACKENDS = ("libdecaf", "libsodium") if point_sums._decaf is not None else ("libsodium",)


def test_libdecaf_is_the_backend_where_installed() -> None:
    """Every test below runs on each backend present; this one says when libdecaf is not
    (a skip here, a failure under scripts/test, whose set-up installs it)."""
    if point_sums._decaf is None:
        skip_unless_setup_installs("libdecaf is not installed (apt-get install libdecaf0)")
    assert point_sums.BACKEND == "libdecaf"


def _multiple(k: int) -> bytes:
    k %= g.L
    return g.base(g.sc(k)) if k else g.IDENTITY


def test_sums_of_the_rfc_multiples_are_the_next_multiples() -> None:
    """RFC 9496 A.1 lists k*G for k = 0..15: summing 1*G k times must give exactly them."""
    valid = [bytes.fromhex(v["hex"]) for v in ENCODINGS["valid"]]
    for backend in BACKENDS:
        for k in range(1, len(valid) + 1):
            assert sum_points([valid[0]] * k, backend=backend) == valid[k - 1], (backend, k)


@settings(max_examples=40)
@given(ks=st.lists(st.integers(min_value=0, max_value=g.L - 1), min_size=0, max_size=12),
       removed=st.lists(st.integers(min_value=1, max_value=g.L - 1), max_size=4))
def test_backends_agree_with_each_other_and_with_scalar_arithmetic(ks: list[int], removed: list[int]) -> None:
    """sum k_i*G - sum r_j*G = (sum k_i - sum r_j)*G, on both backends, from any start."""
    expected = _multiple(sum(ks) - sum(removed))
    start = _multiple(7)
    for backend in BACKENDS:
        sums = PointSums(2, [g.IDENTITY, start], backend=backend)
        for k in ks:
            sums.add(0, _multiple(k))
            sums.add(1, _multiple(k))
        for r in removed:
            sums.sub(0, _multiple(r))
            sums.sub(1, _multiple(r))
        assert sums.encoded() == [expected, g.add(expected, start)], backend


def test_random_points_match_libsodium_addition() -> None:
    points = [g.hash_to_point("test", secrets.token_bytes(16)) for _ in range(300)]
    folded = g.IDENTITY
    for p in points:
        folded = g.add(folded, p)
    for backend in BACKENDS:
        assert sum_points(points, backend=backend) == folded
        assert sum_points([], backend=backend) == g.IDENTITY


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_invalid_encoding_is_refused_with_a_code(backend: str) -> None:
    """RFC 9496 A.2's bad encodings and the bit-255 ones: refused, never summed as garbage,
    whether added, subtracted or given as a starting point."""
    genuine = g.hash_to_point("test", b"x")
    for item in ENCODINGS["invalid"]:
        bad = bytes.fromhex(item["hex"])
        for op in ("add", "sub", "start"):
            with pytest.raises(CryptoError) as e:
                if op == "start":
                    PointSums(1, [bad], backend=backend)
                else:
                    sums = PointSums(1, [genuine], backend=backend)
                    getattr(sums, op)(0, bad)
            assert e.value.code == ErrorCode.CRYPTO_BAD_POINT, (item, op)
    with pytest.raises(CryptoError):
        sum_points([genuine, genuine[:31]], backend=backend)


def test_a_refused_point_leaves_the_sum_unchanged() -> None:
    p, q = _multiple(3), _multiple(5)
    bad = bytes.fromhex(ENCODINGS["invalid"][0]["hex"])
    for backend in BACKENDS:
        sums = PointSums(1, backend=backend)
        sums.add(0, p)
        with pytest.raises(CryptoError):
            sums.add(0, bad)
        sums.add(0, q)
        assert sums.encoded() == [_multiple(8)], backend


def test_shared_decodes_give_the_same_sums_and_never_keep_a_refusal() -> None:
    """``sharing_decodes`` (the audit: the state's tally, then the recount, add the same
    points) is a cache of decodings: with it, across more points than its ring holds, in
    two sums in turn, every sum is byte for byte what it is without; a refused encoding
    is refused again, never remembered; and another thread decodes for itself."""
    import threading

    points = [_multiple(k) for k in range(1, 40)]
    bad = bytes.fromhex(ENCODINGS["invalid"][0]["hex"])

    def two_sums() -> list[bytes]:
        a, b = PointSums(2), PointSums(1)
        for k, p in enumerate(points):
            a.add(k % 2, p)
            b.add(0, p)
            if k % 5 == 0:
                a.sub(1 - k % 2, p)
        for _ in range(2):
            with pytest.raises(CryptoError):
                b.add(0, bad)
        return a.encoded() + b.encoded()

    plain = two_sums()
    with point_sums.sharing_decodes(size=16):
        ring = point_sums._shared_ring.get()  # (None: no libdecaf, nothing to share)
        shared = two_sums()
        with point_sums.sharing_decodes():  # nested: the same ring
            assert point_sums._shared_ring.get() is ring
        seen: list[object] = []
        t = threading.Thread(target=lambda: seen.append(point_sums._shared_ring.get()))
        t.start()
        t.join()
    assert shared == plain and seen == [None]
    assert point_sums._shared_ring.get() is None
    if point_sums._decaf is not None:
        # a full ring of 16; the refused encoding emptied the slot it would have taken
        assert ring is not None and bad not in ring._index and len(ring._index) == 15


def test_point_checks_while_sharing_decodes_agree_and_feed_the_next_sum() -> None:
    """In the audit the ballot's point checks (``group.point``) decode with libdecaf into
    the shared ring, so the running tally finds the points decoded. The checks must say
    exactly what libsodium's say: every RFC 9496 bad encoding and bit-255 variant is
    refused, the valid ones and the identity pass, and each accepted point is kept."""
    cases = [bytes.fromhex(item["hex"]) for item in ENCODINGS["invalid"]]
    cases += [_multiple(k) for k in range(1, 17)] + [g.IDENTITY, secrets.token_bytes(32)]
    plain = [g._canonical_point(p) for p in cases]
    assert plain.count(False) >= len(ENCODINGS["invalid"])
    with point_sums.sharing_decodes():
        shared = [g._canonical_point(p) for p in cases]
        ring = point_sums._shared_ring.get()
        kept = set(ring._index) if ring is not None else set()
    assert shared == plain
    if point_sums._decaf is not None:
        assert kept == {p for p, ok in zip(cases, plain, strict=True) if ok}


def test_points_decoded_by_a_worker_give_the_same_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's verification worker exports the forms of the points it checked
    (``export_decoded``, from its ring) and the event loop's tally copies them
    (``remember_decoded``) instead of decoding: every sum, with the ring on or off, is byte
    for byte the sum without; a form is only ever used for the encoding it was exported
    for; a form of the wrong size, or a point that does not decode, exports or remembers
    nothing; and the forms kept are bounded (the oldest forgotten first)."""
    if point_sums._decaf is None:
        skip_unless_setup_installs("libdecaf is not installed (apt-get install libdecaf0)")
    points = [_multiple(k) for k in range(1, 30)]
    plain = sum_points(points)
    assert point_sums.export_decoded(points) is None  # outside ``sharing_decodes``: nothing
    with point_sums.sharing_decodes(size=8):  # (fewer slots than points: decoded on a miss)
        forms = point_sums.export_decoded(points)
        bad = bytes.fromhex(ENCODINGS["invalid"][0]["hex"])
        with pytest.raises(CryptoError) as e:
            point_sums.export_decoded([points[0], bad])
        assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    assert forms is not None and len(forms) == point_sums._POINT_BYTES * len(points)
    point_sums.forget_known()  # (other tests in this process may have absorbed verdicts)
    try:
        point_sums.remember_decoded(points[:3], forms[:-1])  # the wrong size: ignored
        assert not point_sums.known_points()
        # remembered under their own encodings only: the 2nd point's form is not the 1st's
        point_sums.remember_decoded(points, forms)
        assert point_sums._KNOWN[points[0]] != point_sums._KNOWN[points[1]]
        assert sum_points(points) == plain
        with point_sums.sharing_decodes(size=4):  # the ring copies them too (the audit)
            assert sum_points(points) == plain
            assert all(g._canonical_point(p) for p in points)
        # a point never exported is decoded as before, and a bad one still refused
        assert sum_points([*points, _multiple(31)]) == _multiple(sum(range(1, 30)) + 31)
        with pytest.raises(CryptoError):
            sum_points([points[0], bad])
        # bounded: at most KNOWN_MAX kept, at least the newest KNOWN_MAX // 2, whether
        # they come in one call or one by one
        monkeypatch.setattr(point_sums, "KNOWN_MAX", 6)
        point_sums.forget_known()
        point_sums.remember_decoded(points, forms)
        assert point_sums.known_points() == set(points[-3:])
        point_sums.forget_known()
        step = point_sums._POINT_BYTES
        for i, p in enumerate(points):
            point_sums.remember_decoded([p], forms[i * step:(i + 1) * step])
            kept = point_sums.known_points()
            assert set(points[max(0, i - 2):i + 1]) <= kept <= set(points[max(0, i - 5):i + 1])
        assert sum_points(points) == plain
    finally:
        point_sums.forget_known()


def test_a_kept_ring_serves_the_next_block_on_its_thread_only() -> None:
    """A verification worker enters ``sharing_decodes(keep=True)`` for every call: the
    ring (and what it decoded) carries over to its next call, on the same thread only,
    and a block without ``keep`` still starts empty."""
    import threading

    if point_sums._decaf is None:
        skip_unless_setup_installs("libdecaf is not installed (apt-get install libdecaf0)")
    p = _multiple(5)
    with point_sums.sharing_decodes(keep=True):
        first = point_sums._shared_ring.get()
        assert g._canonical_point(p)
    with point_sums.sharing_decodes(keep=True):
        again = point_sums._shared_ring.get()
    with point_sums.sharing_decodes():
        fresh = point_sums._shared_ring.get()
    other: list[object] = []

    def on_another_thread() -> None:
        with point_sums.sharing_decodes(keep=True):
            other.append(point_sums._shared_ring.get())

    t = threading.Thread(target=on_another_thread)
    t.start()
    t.join()
    assert first is not None and again is first and p in first._index
    assert fresh is not first and fresh is not None and not fresh._index
    assert other and other[0] is not first
    assert point_sums._shared_ring.get() is None
