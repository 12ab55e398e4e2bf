"""The observer's follow loop: certified blocks from the peers, checked and re-executed.

Observers run no consensus. They poll their peers' tips (``node.sync.TipWatcher``),
fetch the certified blocks they lack from the most advanced responsive peer, verify
each commit certificate against the genesis validators and re-execute the block
(``Ledger.certified``, then ``Ledger.commit_on`` with the synced write on
``node.disk_thread``). A block that fails is refused and fetched again
(perhaps from another peer); a failure of this node's own disk stops the node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from ballot_tx.block import Block
from ballot_tx.errors import BallotchainError, StoreError
from node import logs
from node.disk_thread import DiskThread
from node.ledger import Ledger
from node.network import PeerNetwork
from node.preverify import Verification
from node.supervisor import Supervisor, cancel_all
from node.sync import fetch_certified

log = logs.get("node")

FOLLOW_POLL_S = 0.2


class Follower:
    def __init__(self, ledger: Ledger, network: PeerNetwork, verification: Verification,
                 supervisor: Supervisor, on_commit: Callable[[Block], None]) -> None:
        self.ledger = ledger
        self.network = network
        self.verification = verification
        self.supervisor = supervisor
        self.on_commit = on_commit  # a block committed (pool, waiters, metrics, ops log)
        self._tasks: list[asyncio.Task[None]] = []
        self._disk = DiskThread()

    def start(self) -> None:
        self._tasks.append(self.supervisor.spawn(self._follow(), "follow"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._disk.close()

    async def _follow(self) -> None:
        watcher, session = self.network.watcher, self.network.session
        while self.supervisor.damaged is None:
            urls = watcher.ahead() or watcher.responsive()
            records = await fetch_certified(session, urls, self.ledger.height + 1, watcher.failed)
            await self.verification.blocks([blk for blk, _ in records])
            for blk, cert in records:
                try:
                    block = await self.ledger.commit_on(self._disk, *self.ledger.certified(blk, cert))
                except StoreError:
                    raise  # our own disk, not the peer's block: fatal (see node.supervisor)
                except BallotchainError as e:
                    log.warning("refused a fetched block", height=self.ledger.height + 1,
                                code=e.code, reason=e.message)
                    break
                self.on_commit(block)
            if not records:
                watcher.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watcher.changed.wait(), FOLLOW_POLL_S)
