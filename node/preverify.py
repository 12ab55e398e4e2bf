"""Signature and ballot-proof checks on worker processes, before the loop needs them.

``node.verify_pool`` checks on other cores; this part owns the pool's lifecycle and
checks the transactions of incoming blocks ahead of time, so that
``Ledger.validate``/``commit_certified`` on the loop only recall the verdicts
(admission uses ``pool`` directly for client and forwarded transactions). With no
workers configured every check runs inline, as the ledger does anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from node import logs
from node.ledger import Ledger
from node.supervisor import Supervisor, cancel_all
from node.verify_pool import VerifyPool, default_workers

log = logs.get("node")


class Verification:
    """The optional verification pool (``pool`` is None when checks run inline)."""

    def __init__(self, workers: int, chain_id: bytes, ledger: Ledger) -> None:
        n = default_workers() if workers < 0 else workers
        self.pool = VerifyPool(n, chain_id, ledger.checker) if n > 0 else None
        self.ledger = ledger
        self._tasks: list[asyncio.Task[None]] = []
        log.info("verification workers", workers=n)

    def start(self, supervisor: Supervisor) -> None:
        if self.pool is not None:
            self._tasks.append(supervisor.spawn(self.pool.start(), "verify-pool"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        if self.pool is not None:
            self.pool.close()

    async def blocks(self, blocks: Iterable[bytes]) -> None:
        """Check the not yet verified transactions of ``blocks`` on the workers."""
        if self.pool is None:
            return
        raws = self.ledger.unverified_txs(list(blocks))
        if raws:  # (the pool records the verdicts in the ledger's checker)
            await self.pool.verify(self.ledger.open_elections(), raws)
