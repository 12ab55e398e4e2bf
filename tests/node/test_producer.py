"""The primary's producer proposes no block without transactions unless the block closes an
election (``node/producer.py``): pending work that turns out to be refused when the block is
built (expired, or invalidated by a commit since admission) is dropped, with its code, and
the producer waits for real work instead of proposing an empty block that an idle chain
must not grow by."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ballot_tx.block import Block, tx_hash
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.tx import decode_tx
from node.mempool import Mempool, Pending
from node.producer import Producer
from tests.node.ledger_env import Env, bad_proof, good, open_election


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_election(tmp_path_factory.mktemp("producer") / "data")


def admitted_then_invalid(raw: bytes) -> tuple[bytes, object]:
    """Admission's verdict for a transaction that was valid when it arrived (the chain
    refuses it by the time a block is built, as it would an expired one)."""
    return tx_hash(raw), decode_tx(raw)


def test_refused_work_makes_no_empty_block(env: Env) -> None:
    led = env.ledger
    pool = Mempool(led.check_tx, lambda h: led.store.find_tx(h) is not None, 100, 1000.0)
    dropped: list[tuple[Pending, BallotchainError]] = []

    def on_dropped(refused: list[tuple[Pending, BallotchainError]]) -> None:
        dropped.extend(refused)
        pool.remove(p.tx_hash for p, _ in refused)

    proposer = env.w.genesis.validators[0].ed25519_public
    producer = Producer(led, pool, proposer, 10, 20, lambda: False, on_dropped)
    stale = bad_proof(env, 0)
    pool.add(stale, None, check=admitted_then_invalid)

    async def scenario() -> Block | None:
        task = asyncio.create_task(producer.produce(led.height + 1, led.tip_hash()))
        while not dropped:  # the producer built once and the chain refused the stale one
            assert not task.done(), f"proposed {task.result()} for refused work"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # had it built an empty block, it would be returned now
        assert not task.done(), f"proposed {task.result()} for refused work"
        pool.add(fresh, None)
        producer.changed.set()
        return await asyncio.wait_for(task, 60)

    fresh = good(env, 1)
    block = asyncio.run(scenario())
    assert [(p.raw, e.code) for p, e in dropped] == [(stale, ErrorCode.TX_BAD_BALLOT)]
    assert block is not None and list(block.txs) == [fresh]
