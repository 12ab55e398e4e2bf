"""Mempool limits: dedup, size bound, per-client token buckets, bounded client table."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.codec import hash_bytes
from ballot_tx.errors import BallotchainError, ErrorCode
from node.mempool import Mempool, MempoolError
from node.rate_limit import MAX_CLIENTS_TRACKED, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(max_txs: int = 10, rate: float = 1000, committed: set[bytes] | None = None) -> tuple[Mempool, list[bytes], Clock]:
    checked: list[bytes] = []
    done = committed or set()

    def check(raw: bytes) -> tuple[bytes, Any]:
        if raw.startswith(b"bad"):
            raise BallotchainError(ErrorCode.TX_BAD_SIGNATURE, "bad")
        checked.append(raw)
        return hash_bytes("tx", raw), raw

    clock = Clock()
    return Mempool(check, lambda h: h in done, max_txs, rate, clock), checked, clock


def test_dedup_checks_once_and_returns_the_same_entry() -> None:
    pool, checked, _ = make()
    p1, new1 = pool.add(b"tx1", "c")
    p2, new2 = pool.add(b"tx1", "c")
    assert new1 and not new2 and p1 is p2 and checked == [b"tx1"] and len(pool) == 1


def test_invalid_leaves_pool_unchanged() -> None:
    pool, _, _ = make()
    with pytest.raises(BallotchainError) as e:
        pool.add(b"bad tx", "c")
    assert e.value.code == ErrorCode.TX_BAD_SIGNATURE and len(pool) == 0


def test_committed_is_refused() -> None:
    pool, _, _ = make(committed={hash_bytes("tx", b"old")})
    with pytest.raises(MempoolError) as e:
        pool.add(b"old", "c")
    assert e.value.code == ErrorCode.NODE_DUPLICATE_TX


def test_size_bound_and_removal() -> None:
    pool, _, _ = make(max_txs=3)
    for i in range(3):
        pool.add(b"t%d" % i, None)
    with pytest.raises(MempoolError) as e:
        pool.add(b"t9", None)
    assert e.value.code == ErrorCode.NODE_MEMPOOL_FULL
    assert [p.raw for p in pool.batch(10)] == [b"t0", b"t1", b"t2"]
    pool.remove([hash_bytes("tx", b"t1")])
    assert [p.raw for p in pool.batch(10)] == [b"t0", b"t2"]
    pool.add(b"t9", None)
    assert [p.raw for p in pool.batch(2, exclude={hash_bytes("tx", b"t0")})] == [b"t2", b"t9"]


def test_rate_limit_per_client_refills() -> None:
    pool, _, clock = make(max_txs=1000, rate=5)
    accepted = 0
    for i in range(20):
        try:
            pool.add(b"a%d" % i, "alice")
            accepted += 1
        except MempoolError as e:
            assert e.code == ErrorCode.API_RATE_LIMITED
    assert accepted == 10  # burst of 2 * rate
    pool.add(b"b0", "bob")  # another client is not affected
    clock.t += 1.0
    pool.add(b"a-later", "alice")  # tokens came back


@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 2)), max_size=60))
def test_token_bucket_never_exceeds_rate_plus_burst(events: list[tuple[int, float]]) -> None:
    clock = Clock()
    b = TokenBuckets(3, clock)
    allowed: dict[int, int] = {}
    for client, dt in events:
        clock.t += dt
        if b.allow(str(client)):
            allowed[client] = allowed.get(client, 0) + 1
    for n in allowed.values():
        assert n <= 6 + 3 * clock.t + 1e-9


def test_client_table_is_bounded() -> None:
    b = TokenBuckets(1, Clock())
    for i in range(MAX_CLIENTS_TRACKED + 50):
        b.allow(f"c{i}")
    assert len(b) == MAX_CLIENTS_TRACKED


def test_admitted_before_lists_only_old_enough_entries_in_admission_order() -> None:
    """The pool's sweep re-checks only what has waited a whole sweep period."""
    pool, _, clock = make()
    pool.add(b"tx1", "c")
    clock.t = 1.0
    pool.add(b"tx2", "c")
    clock.t = 2.5
    pool.add(b"tx3", "c")
    clock.t = 3.0
    assert [p.raw for p in pool.admitted_before(3.0)] == [b"tx1"]
    assert [p.raw for p in pool.admitted_before(2.0)] == [b"tx1", b"tx2"]
    assert [p.raw for p in pool.admitted_before(0.0)] == [b"tx1", b"tx2", b"tx3"]
    pool.remove([hash_bytes("tx", b"tx1")])
    clock.t = 10.0
    assert [p.raw for p in pool.admitted_before(3.0)] == [b"tx2", b"tx3"]
