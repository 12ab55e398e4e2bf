"""Properties of the state machine over random mixes of valid and conflicting transactions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballot_tx.block import Block, make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import encode
from ballot_tx.errors import BlockError
from ballot_tx.state.execute import apply_block, select_txs
from ballot_tx.state.snapshot import State
from tests.ballot_tx.state.helpers import VALIDATORS, kp
from tests.ballot_tx.state.world import World, build_world


@pytest.fixture(scope="module")
def pool() -> tuple[World, list[bytes]]:
    """Candidate transactions: ballots and re-votes, code ballots that conflict with each
    other, ballots from strangers, and junk."""
    w, es = build_world()
    e, c = es["open"], es["codes"]
    txs = [encode(w.cast(e, v, (tuple(int(i % 3 == k) for k in range(3)),))) for i, v in enumerate(e.voters * 2)]
    txs += [encode(w.cast(c, c.voters[1])), encode(w.cast(c, c.voters[1], ((0, 1, 0),)))]
    txs += [encode(w.cast(c, c.voters[2])), encode(w.cast(e, kp("stranger"))), b"\xc0"]
    return w, txs


def block_of(st: State, txs: list[bytes], dt: int = 1000) -> Block:
    return make_block(st.height + 1, st.block_hash, st.time_ms + dt, VALIDATORS[0].ed25519_public, st.root, txs)


@settings(max_examples=25)
@given(st.lists(st.integers(0, 10), max_size=14))
def test_selected_txs_apply_and_splitting_a_block_changes_nothing(
    pool: tuple[World, list[bytes]], picks: list[int]
) -> None:
    w, txs = pool
    st0 = w.chain.state
    cands = [txs[i] for i in picks]
    kept, rejected = select_txs(st0, cands, st0.time_ms + 1000)
    assert len(kept) + len(rejected) == len(cands)
    whole = apply_block(st0, block_of(st0, kept))
    # the same transactions one block each give the same state
    s = st0
    for raw in kept:
        s = apply_block(s, block_of(s, [raw]))
    assert s.root == whole.root
    # and a block that also holds a rejected transaction at its position is invalid
    for i, _ in rejected[:1]:
        prefix = [r for r in cands[:i] if r in kept]
        with pytest.raises(BlockError) as err:
            apply_block(st0, block_of(st0, [*prefix, cands[i]]), MemoChecker())
        assert err.value.tx_index == len(prefix)


@settings(max_examples=10)
@given(st.permutations(list(range(3))))
def test_order_of_distinct_voters_does_not_matter(pool: tuple[World, list[bytes]], order: list[int]) -> None:
    w, txs = pool
    st0 = w.chain.state
    first = [txs[i] for i in range(3)]
    a = apply_block(st0, block_of(st0, first))
    b = apply_block(st0, block_of(st0, [first[i] for i in order]))
    assert a.root == b.root
