"""Client and forwarded transactions: admission into the pending pool, and the pool's
upkeep (kept across restarts, swept against the moving tip, emptied by commits).

A client's transaction is admitted (rate limit, duplicate, bound, signature and
proofs, the stateful rules at the tip), kept on disk before its 202 (it must survive
``kill -9``), and handed to ``node.forwarding``, which gets it to the validators and
re-forwards it until it commits or expires. Commits take transactions out of the pool;
transactions that became invalid are dropped with their outcome kept; in both cases
``node.tx_status`` (which answers ``GET /v1/txs/{hash}`` and wakes ``?wait=commit``
requests) is told.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ballot_tx.block import Block
from ballot_tx.checks import Checker
from ballot_tx.errors import BallotchainError, ErrorCode
from node import logs
from node.errors import NodeError
from node.forwarding import Forwarding
from node.ledger import Ledger
from node.mempool import Mempool, Pending
from node.metrics import Metrics
from node.network import PeerNetwork
from node.ops import Operations
from node.preverify import Verification
from node.store import Store
from node.supervisor import Supervisor, cancel_all
from node.tx_status import TxStatus
from node.verify_work import Refusals

log = logs.get("node")

SWEEP_S = 3.0
SWEEP_SLICE = 200


class Admission:
    """The pending pool's door and its upkeep."""

    def __init__(self, store: Store, ledger: Ledger, mempool: Mempool,
                 metrics: Metrics, ops: Operations, network: PeerNetwork,
                 verification: Verification, supervisor: Supervisor,
                 forwarding: Forwarding, tx_status: TxStatus,
                 on_new_work: Callable[[], None], on_swept: Callable[[], None]) -> None:
        self.store = store
        self.ledger = ledger
        self.mempool = mempool
        self.metrics = metrics
        self.ops = ops
        self.network = network
        self.verification = verification
        self.supervisor = supervisor
        self.forwarding = forwarding
        self.tx_status = tx_status
        self.on_new_work = on_new_work  # a transaction entered the pool
        self.on_swept = on_swept  # a sweep may have dropped some
        self._admitting: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Sweep the pool, restore what was acknowledged before a restart, re-forward."""
        self._tasks.append(self.supervisor.spawn(self._sweep(), "sweep"))
        self._restore_pool()
        self._tasks.append(self.supervisor.spawn(self.forwarding.reforward(), "re-forward"))

    async def stop(self) -> None:
        await cancel_all([*self._tasks, *self._admitting])

    # --- client transactions ----------------------------------------------------------

    async def submit(self, raw: bytes, client: str) -> bytes:
        """Admit a client's transaction; its hash (the tracking code) once it is kept."""
        if self.supervisor.damaged is not None:
            raise NodeError(ErrorCode.NODE_STORE_DAMAGED, "this node's database is damaged; use another node")
        if self.network.is_validator or self.network.links:
            return await self._admit_verified(raw, client, local=True)
        raise NodeError(ErrorCode.NODE_UNAVAILABLE, "this observer has no validator to forward to")

    # --- admission --------------------------------------------------------------------
    # Signatures and ballot proofs are checked on worker processes before the stateful
    # rules run on the loop; verdicts come back under keys naming every input checked.

    async def _admit_verified(self, raw: bytes, client: str | None, local: bool) -> bytes:
        """Admission with the proofs checked on a worker: the mempool's cheap gate (rate
        limit, duplicate, bound) first, then the worker, then the stateful check on the
        loop with the verdicts recalled (a refusal raises the worker's error)."""
        pool = self.verification.pool
        if pool is None:
            return self._admit(raw, client, local)
        try:
            known = self.mempool.gate(raw, client)
        except BallotchainError as e:
            self.metrics.txs_rejected.labels(code=str(e.code)).inc()
            raise
        if known is not None:
            return known.tx_hash
        verdicts = await pool.verify(self.ledger.open_elections(), [raw])
        if verdicts is None:
            return self._admit(raw, None, local)
        refused = verdicts.refusals()  # (the pool recorded the rest in the ledger's checker)
        checker = Refusals(self.ledger.checker, refused) if refused else None
        return self._admit(raw, None, local, self._check_with(checker))

    def _check_with(self, checker: Checker | None) -> Callable[[bytes], tuple[bytes, Any]]:
        return lambda raw: self.ledger.check_tx(raw, checker)

    def on_peer_txs(self, payloads: tuple[bytes, ...]) -> None:
        """A peer's forwarded batch (never acknowledged to a client here)."""
        if self.verification.pool is not None:
            self._admit_forwarded(payloads)
            return
        for raw in payloads:
            try:
                self._admit(raw, client=None, local=False)
            except BallotchainError as e:
                log.debug("forwarded transaction refused", code=e.code)

    def _admit_forwarded(self, payloads: tuple[bytes, ...]) -> None:
        """A peer's batch: verified in one request spread over the workers, then admitted
        in its order."""
        pool = self.verification.pool
        assert pool is not None

        async def run() -> None:
            todo = []
            for raw in payloads:
                try:
                    if self.mempool.gate(raw, None) is None:
                        todo.append(raw)
                except BallotchainError as e:
                    log.debug("forwarded transaction refused", code=e.code)
            verdicts = await pool.verify(self.ledger.open_elections(), todo)
            refused = verdicts.refusals() if verdicts is not None else {}
            checker = Refusals(self.ledger.checker, refused) if refused else None
            for raw in todo:
                try:
                    self._admit(raw, None, False, self._check_with(checker))
                except BallotchainError as e:
                    log.debug("forwarded transaction refused", code=e.code)

        task = asyncio.get_running_loop().create_task(run())
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    def _admit(self, raw: bytes, client: str | None, local: bool,
               check: Callable[[bytes], tuple[bytes, Any]] | None = None) -> bytes:
        try:
            p, new = self.mempool.add(raw, client, local, check)
            if new and local:
                try:
                    self.store.pool_put(p.tx_hash, raw)  # a 202 must survive kill -9
                except BallotchainError:
                    self.mempool.remove([p.tx_hash])
                    raise
        except BallotchainError as e:
            self.metrics.txs_rejected.labels(code=str(e.code)).inc()
            if local:  # a client's transaction (peers re-forwarding committed ones is normal)
                self.ops.rejected(str(e.code))
            raise
        if new:
            self.metrics.txs_admitted.inc()
            self.metrics.mempool_size.set(len(self.mempool))
            if local:
                self.forwarding.forward(raw)
            self.on_new_work()
        return p.tx_hash

    # --- the pool's upkeep ------------------------------------------------------------

    def _restore_pool(self) -> None:
        """Re-admit the transactions acknowledged before a crash or restart."""
        gone: list[bytes] = []
        kept = 0
        for h, raw in list(self.store.pool_items()):
            if raw is None:
                log.error("a kept pending transaction is damaged; dropped", tx=h.hex(),
                          code=str(ErrorCode.STORE_CORRUPT))
                gone.append(h)
                continue
            try:
                p, _ = self.mempool.add(raw, None, local=True)
                p.next_forward = 0.0  # forward at the next tick
                kept += 1
            except BallotchainError as e:
                gone.append(h)
                if e.code != ErrorCode.NODE_DUPLICATE_TX:  # (duplicate: committed meanwhile)
                    self.tx_status.record_outcome(h, e, None, True)
        self.store.pool_delete(gone)
        if kept or gone:
            log.info("restored pending transactions", kept=kept, dropped=len(gone))

    async def _sweep(self) -> None:
        """Every few seconds, re-check pending transactions against the moved tip.

        Commits can invalidate pending transactions (expired, election closed, a
        conflicting one included); a validator that is not primary would otherwise
        keep them forever. Verdicts are cached, so a re-check costs a decode and
        a few state reads; it runs in slices so consensus is never held up long.

        Only transactions pending for a whole sweep period are re-checked: a younger
        one was checked against a tip at most that old when it was admitted, and most
        commit before they reach that age (under load, re-checking every pending ballot
        each sweep was 2-3 % of a validator's loop). A transaction that became invalid
        is thus dropped within two sweep periods instead of one; a proposer re-checks
        whatever it selects anyway (``select_txs``), so none reaches a block.
        """
        checked_at = -1
        while True:
            await asyncio.sleep(SWEEP_S)
            if self.ledger.height == checked_at or not len(self.mempool):
                continue
            pending = self.mempool.admitted_before(SWEEP_S)
            # the young ones left out are re-checked at the next sweep even if no block
            # commits meanwhile (they may not have seen this tip yet)
            checked_at = self.ledger.height if len(pending) == len(self.mempool) else -1
            for i in range(0, len(pending), SWEEP_SLICE):
                dropped = []
                for p in pending[i:i + SWEEP_SLICE]:
                    if p.tx_hash not in self.mempool:
                        continue
                    try:
                        self.ledger.check_tx(p.raw)
                    except BallotchainError as e:
                        dropped.append((p, e))
                self.drop_invalid(dropped)
                await asyncio.sleep(0)
            self.on_swept()

    def drop_invalid(self, dropped: list[tuple[Pending, BallotchainError]]) -> None:
        """Pending transactions found invalid after all: out of the pool, waiters told why,
        and the outcome kept so ``GET /v1/txs/{hash}`` can say expired or rejected."""
        self.mempool.remove(p.tx_hash for p, _ in dropped)
        if dropped:
            self.store.pool_delete([p.tx_hash for p, _ in dropped])
        for p, err in dropped:
            self.tx_status.record_outcome(p.tx_hash, err, getattr(p.tx, "expires_ms", None), p.local)
            self.metrics.txs_rejected.labels(code=str(err.code)).inc()
            self.tx_status.failed(p.tx_hash, err)
        if dropped:
            log.info("dropped pending transactions that became invalid", count=len(dropped))

    def committed(self, block: Block) -> None:
        """``block`` committed: its transactions leave the pool and their waiters learn where."""
        hashes = block.tx_hashes()
        removed = self.mempool.remove(hashes)
        self.store.pool_delete([p.tx_hash for p in removed if p.local])
        now = time.monotonic()
        for p in removed:
            if p.local:
                self.metrics.commit_latency.observe(now - p.admitted_at)
        self.tx_status.committed(block, hashes)
