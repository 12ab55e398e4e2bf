"""The primary's block: ``Ledger.build`` executes the block once when every candidate
applies, and falls back to ``select_txs`` otherwise; either way the block is the one
``select_txs`` selects, and every refused transaction keeps its code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ballot_tx.block import make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import encode
from ballot_tx.errors import ErrorCode
from ballot_tx.state import select_txs
from tests.node.ledger_env import Env, bad_proof, good, open_election


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_election(tmp_path_factory.mktemp("build") / "data")


def build(env: Env, txs: list[bytes], limit: int = 500) -> tuple[bytes, list[bytes], list[tuple[int, ErrorCode]]]:
    """(encoded block, its txs, refused (index, code)) from Ledger.build, after checking
    that select_txs on the same inputs keeps the same transactions and refuses the same."""
    led = env.ledger
    st = led.state
    proposer = env.w.genesis.validators[0].ed25519_public
    block, refused = led.build(st.height + 1, st.block_hash, proposer, txs, limit)
    kept, rej = select_txs(st, txs, block.header.time_ms, MemoChecker(), limit)
    assert list(block.txs) == kept
    assert [(i, e.code) for i, e in refused] == [(i, e.code) for i, e in rej]
    assert block == make_block(block.height, st.block_hash, block.header.time_ms, proposer, st.root, kept)
    blob = encode(block)
    assert led.validate(block.height, st.block_hash, blob)  # executed once, recalled here
    return blob, kept, [(i, e.code) for i, e in refused]


def test_all_valid_is_one_execution_of_the_whole_batch(env: Env) -> None:
    txs = [good(env, i) for i in range(3)]
    _, kept, refused = build(env, txs)
    assert kept == txs and refused == []
    _, kept, _ = build(env, txs, limit=2)  # the count limit cuts the batch, in order
    assert kept == txs[:2]


def test_a_bad_transaction_falls_back_to_selection_with_its_code(env: Env) -> None:
    a, b = good(env, 4), good(env, 5)
    _, kept, refused = build(env, [a, bad_proof(env, 6), b, a])
    assert kept == [a, b]
    assert refused == [(1, ErrorCode.TX_BAD_BALLOT), (3, ErrorCode.TX_DUPLICATE)]
