"""Block production for the primary: batches of up to N transactions or T ms.

When consensus asks for a proposal (``RequestProposal``), the producer waits
until either ``max_txs`` transactions are pending, or the oldest pending one has
waited ``interval_ms`` (so a lone ballot is committed within T ms and a flood
fills blocks), or an election's end time has passed and only a block can close
it. With nothing to do it proposes nothing: an idle chain does not grow (consensus
changes view on its timer only while there is work, see ``consensus.replica.timers``), so
blocks without transactions exist only for time-based phase changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ballot_tx.block import Block
from ballot_tx.errors import BallotchainError
from node import logs
from node.ledger import Ledger
from node.mempool import Mempool, Pending

log = logs.get("producer")


class Producer:
    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        proposer: bytes,
        max_txs: int,
        interval_ms: int,
        phase_change_due: Callable[[], bool],
        on_dropped: Callable[[list[tuple[Pending, BallotchainError]]], None],
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.proposer = proposer
        self.max_txs = max_txs
        self.interval_s = interval_ms / 1000
        self.phase_change_due = phase_change_due
        self.on_dropped = on_dropped
        self.changed = asyncio.Event()  # set by the consensus driver when there is news

    def _ready(self) -> float | None:
        """0 if a block should be built now, else seconds to wait at most (None: until news)."""
        n = len(self.mempool)
        if n >= self.max_txs or self.phase_change_due():
            return 0.0
        if n == 0:
            return None
        oldest = self.mempool.batch(1)[0].admitted_at
        return max(0.0, oldest + self.interval_s - time.monotonic())

    async def produce(self, height: int, prev_hash: bytes) -> Block | None:
        """Wait for work, then build a valid block at ``height`` on ``prev_hash``.

        Returns None if the chain moved on meanwhile (the proposal is stale). Work that
        turns out to be no work (every pending transaction refused when the block is built:
        expired, or invalidated by a commit since admission) is dropped and waited past, so
        no block without transactions is proposed unless it closes an election.
        """
        pause = False  # a build came to nothing and dropped nothing: wait for news first
        while True:
            if self.ledger.height != height - 1 or self.ledger.tip_hash() != prev_hash:
                return None
            wait = None if pause else self._ready()
            if wait == 0.0:
                block, dropped = self._build(height, prev_hash)
                if block is not None:
                    return block
                pause = not dropped
                continue
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=wait if wait else 1.0)
            except TimeoutError:
                pass
            pause = False

    def _build(self, height: int, prev_hash: bytes) -> tuple[Block | None, bool]:
        """(the block to propose, or None if it would carry nothing; whether refused
        transactions were dropped from the pool)."""
        batch = self.mempool.batch(self.max_txs)
        block, dropped = self.ledger.build(
            height, prev_hash, self.proposer, [p.raw for p in batch], self.max_txs
        )
        if dropped:
            self.on_dropped([(batch[i], err) for i, err in dropped])
        if block.txs or self._closes_an_election(block):
            return block, bool(dropped)
        log.info("every pending transaction was refused: no block proposed", refused=len(dropped))
        return None, bool(dropped)

    def _closes_an_election(self, block: Block) -> bool:
        """The block's own effect, not the clock's (auto-close is the only thing a block
        without transactions does); ``execute`` recalls the state ``build`` computed."""
        return self.ledger.execute(block).open_elections() != self.ledger.state.open_elections()
