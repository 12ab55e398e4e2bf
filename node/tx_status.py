"""Where a transaction is, for ``GET /v1/txs/{hash}`` and ``POST /v1/txs?wait=commit``.

``status`` answers committed, pending (with its expiry), expired or rejected (with
the code, kept across restarts for transactions this node acknowledged) or unknown;
``wait_commit`` waits for a commit, and admission tells the waiters when a
transaction commits or is dropped. Separate from ``node.admission`` because it only
reads and reports: nothing here decides what enters or leaves the pool.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ballot_tx.block import Block
from ballot_tx.errors import BallotchainError, ErrorCode
from node import views
from node.ledger import Ledger
from node.mempool import Mempool
from node.store import Store

#: A commit waiter's answer: the height, index and block hash the transaction got.
Committed = dict[str, Any]


class TxStatus:
    """Each transaction's status, its kept outcome, and who waits for its commit."""

    def __init__(self, store: Store, ledger: Ledger, mempool: Mempool) -> None:
        self.store = store
        self.ledger = ledger
        self.mempool = mempool
        self._waiters: dict[bytes, list[asyncio.Future[Committed]]] = {}

    async def wait_commit(self, h: bytes, timeout_s: float) -> Committed | None:
        """Where ``h`` committed, waiting up to ``timeout_s``; None if it did not."""
        found = self.ledger.store.find_tx(h)
        if found is not None:
            height, index = found
            return {"height": height, "index": index}
        fut: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(h, []).append(fut)
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            return None
        finally:
            lst = self._waiters.get(h)
            if lst is not None and fut in lst:
                lst.remove(fut)
                if not lst:
                    del self._waiters[h]

    def status(self, h: bytes) -> dict[str, Any] | None:
        """Committed; pending (with its expiry); expired or rejected (with the code); or unknown."""
        found = views.tx_view(self.ledger.store, h)
        if found is not None:
            return found
        p = self.mempool.get(h)
        if p is not None:
            return {"tracking_code": h.hex(), "status": "pending",
                    "expires_ms": getattr(p.tx, "expires_ms", None), "tx": views.tx_json(p.raw)}
        outcome = self.mempool.outcomes.get(h)
        if outcome is None:
            kept = self.ledger.store.get_outcome(h)
            outcome = None if kept is None else json.loads(kept)
        if outcome is not None:
            return {"tracking_code": h.hex(), **outcome}
        return None

    def record_outcome(self, h: bytes, err: BallotchainError, expires_ms: int | None,
                       acknowledged: bool) -> None:
        """Why ``h`` will never commit, for ``GET /v1/txs``; kept in the store (across
        restarts) when this node acknowledged it with a 202."""
        outcome = {"status": "expired" if err.code == ErrorCode.TX_EXPIRED else "rejected",
                   "error": str(err.code), "message": err.message, "expires_ms": expires_ms}
        self.mempool.record_outcome(h, outcome)
        if acknowledged:
            self.store.put_outcome(h, json.dumps(outcome).encode())

    def failed(self, h: bytes, err: BallotchainError) -> None:
        """``h`` was dropped as invalid: its waiters learn why."""
        for fut in self._waiters.pop(h, []):
            if not fut.done():
                fut.set_exception(err)

    def committed(self, block: Block, hashes: list[bytes]) -> None:
        """``block`` (with transaction hashes ``hashes``) committed: the waiters learn where."""
        for i, h in enumerate(hashes):
            for fut in self._waiters.pop(h, []):
                if not fut.done():
                    fut.set_result({"height": block.height, "index": i,
                                    "block_hash": block.hash.hex()})
