"""Forwarding admitted client transactions to the validators, and re-forwarding them.

A client's transaction answered 202 must reach a primary: ``forward`` sends it to
every forward target (the other validators, or an observer's peers) once it is
admitted, and ``reforward`` re-sends what is still pending until it commits or
expires. Separate from ``node.admission`` because deciding what enters the pool and
getting it to the validators are independent: forwarding never judges a
transaction, and admission never touches a peer link.
"""

from __future__ import annotations

import asyncio

from node import logs
from node.config import Limits
from node.mempool import Mempool
from node.network import PeerNetwork
from node.peer_envelope import TOPIC_TXS

log = logs.get("node")

REFORWARD_TICK_S = 1.0


class Forwarding:
    """Admitted client transactions to the validators: once at admission, then until they
    commit or expire."""

    def __init__(self, limits: Limits, mempool: Mempool, network: PeerNetwork) -> None:
        self.limits = limits
        self.mempool = mempool
        self.network = network

    def forward(self, raw: bytes) -> None:
        """Send a newly admitted client transaction to every forward target."""
        for link in self.network.forward_targets():
            link.send(TOPIC_TXS, raw)

    async def reforward(self) -> None:
        """Re-send pending transactions to the validators until they commit or expire.

        The first forward can be lost (a partitioned or paused peer, a peer queue
        that overflowed, a primary that crashed holding it); a transaction
        answered 202 must still reach a primary. Each pending one is re-sent with
        a doubling backoff (3 s to 30 s), never more than the peer queues have
        room for, so re-sending cannot itself push messages out of a queue.
        """
        while True:
            await asyncio.sleep(REFORWARD_TICK_S)
            links = self.network.forward_targets()
            if not links or not len(self.mempool):
                continue
            room = min(self.limits.peer_queue_max // 2 - link.queued() for link in links)
            if room <= 0:
                continue
            due = self.mempool.due_for_forward(room)
            for p in due:
                for link in links:
                    link.send(TOPIC_TXS, p.raw)
            if due:
                log.debug("re-forwarded pending transactions", count=len(due))
