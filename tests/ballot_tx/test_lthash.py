"""The LtHash16 state digest: a set hash that updates in O(changes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.lthash import DIGEST_BYTES, LtHash

records = st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=16), max_size=12)


def digest_of(d: dict[bytes, bytes]) -> LtHash:
    h = LtHash()
    for k, v in d.items():
        h.add(k, v)
    return h


@given(records, st.randoms(use_true_random=False))
def test_order_independent(d: dict[bytes, bytes], rnd: object) -> None:
    items = list(d.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    h = LtHash()
    for k, v in items:
        h.add(k, v)
    assert h.root() == digest_of(d).root()


@given(records, records)
def test_incremental_equals_from_scratch(a: dict[bytes, bytes], b: dict[bytes, bytes]) -> None:
    h = digest_of(a)
    for k in a.keys() - b.keys():
        h.remove(k, a[k])
    for k, v in b.items():
        if k in a:
            if a[k] != v:
                h.remove(k, a[k])
                h.add(k, v)
        else:
            h.add(k, v)
    assert h == digest_of(b)
    assert h.root() == digest_of(b).root()


@given(records)
def test_packed_roundtrip(d: dict[bytes, bytes]) -> None:
    h = digest_of(d)
    p = h.packed()
    assert len(p) == DIGEST_BYTES
    assert LtHash(p) == h and LtHash(p).root() == h.root()


def test_distinguishes_key_value_split_and_values() -> None:
    a, b = LtHash(), LtHash()
    a.add(b"ab", b"c")
    b.add(b"a", b"bc")
    assert a.root() != b.root()
    c = LtHash()
    c.add(b"ab", b"d")
    assert c.root() != a.root()
    empty = LtHash()
    a.remove(b"ab", b"c")
    assert a == empty and a.root() == LtHash().root()


def test_wraps_lanes_without_carry() -> None:
    # lanes average 2^15, so a few hundred records wrap every lane many times
    h = LtHash()
    keys = [i.to_bytes(2, "big") for i in range(300)]
    for k in keys:
        h.add(k, b"x")
    assert h.packed() != LtHash().packed()
    for k in reversed(keys):
        h.remove(k, b"x")
    assert h == LtHash() and h.packed() == bytes(2048)
