"""Signature and ballot-proof checks on worker processes, so a node uses all its cores.

A ballot's proofs are most of a validator's CPU. Run on the event loop, they cap
a node at what one core verifies and delay consensus messages behind them. Here
they run on a pool of worker processes; the loop keeps consensus, networking and
commits, and the cheap stateful rules.

The work items they run (``verify_txs``, its verdicts and the ``Refusals`` checker
that replays a worker's refusal) are ``node.verify_work``; this module is the pool:
its processes (``node.pipe_worker``: one socket each, read and written by the loop,
no executor threads), their start-up, coalescing requests and replacing a broken pool.

Failure is never fatal: a worker that dies (or any pool error) is logged, the
pool is replaced, and the transactions of that request are verified inline.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence

from ballot_tx.checks import MemoChecker
from node import logs
from node.pipe_worker import PipeWorker
from node.verify_work import Elections, Verdicts, verify_txs

log = logs.get("verify")

#: After workers could not be started (no processes or files left), how long the pool
#: stays inline before it tries again.
RESTART_RETRY_S = 5.0


def default_workers() -> int:
    """The host's cores (those this process may run on) minus one for the event loop."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, cores - 1)


def _ping() -> int:
    return os.getpid()


# --- the pool ------------------------------------------------------------------------


class VerifyPool:
    """``workers`` processes (started with ``spawn``: the node's loop, sockets and LevelDB
    handle are not inherited). ``workers == 0`` means inline: every call returns None."""

    def __init__(self, workers: int, chain_id: bytes, checker: MemoChecker) -> None:
        self.workers = workers
        self.chain_id = chain_id
        #: where each worker call's positive verdicts and decoded points are recorded, once
        #: (the ledger's). Every request of a coalesced batch is answered with the whole
        #: batch's verdicts; recording them per request cost k^2 for a batch of k (22
        #: records per ballot under ``bench_network --simple``).
        self.checker = checker
        self._procs: list[PipeWorker] = []  # the current generation of workers
        self._idle: list[PipeWorker] = []  # those of them not running a call
        self.failures = 0
        # False until the workers have started (spawned, crypto imported): meanwhile, and
        # while a replaced pool starts, requests are answered None (verify inline) rather
        # than queued behind the start-up: a node restarting to catch up must not wait.
        self.ready = False
        self._pings: list[asyncio.Task[int]] = []
        self._started = False  # start() was called: from then on a missing pool is restarted
        self._retry_at = 0.0  # (monotonic) when to try starting workers again after a failure
        # coalescing (see ``verify``): waiting requests, worker calls in flight
        self._queue: list[tuple[Elections, list[bytes], asyncio.Future[Verdicts | None]]] = []
        self._dispatching = False
        #: raw transaction -> the snapshot and batch it is queued or running in
        self._pending: dict[bytes, tuple[Elections, asyncio.Future[Verdicts | None]]] = {}

    def pids(self) -> list[int]:
        """The worker processes' ids (for the CPU split of a benchmark, and tests)."""
        return [w.pid for w in self._procs]

    def _start_workers(self) -> None:
        loop = asyncio.get_running_loop()
        procs: list[PipeWorker] = []
        try:
            for _ in range(self.workers):
                procs.append(PipeWorker())
        except BaseException:
            for w in procs:  # none left running behind a failed start
                w.close(wait=False)
            raise
        self._procs = procs
        self._idle = list(self._procs)
        self._pings = [loop.create_task(w.call(_ping)) for w in self._procs]

    def _is_ready(self) -> bool:
        """True once every worker of the current pool has answered its start-up ping."""
        if not self.ready and not self._pings and self._started and time.monotonic() >= self._retry_at:
            self._restart()  # the last start failed: try again
        if not self.ready and self._pings and all(p.done() for p in self._pings):
            if any(p.cancelled() or p.exception() is not None for p in self._pings):
                self._restart()  # broke while starting: try a new pool
            else:
                self.ready, self._pings = True, []
        return self.ready

    async def start(self) -> None:
        """Start every worker now; requests are verified inline until they are up."""
        if self.workers:
            self._started = True
            self._restart()  # (a start that fails is retried, see ``_is_ready``)
            await asyncio.gather(*self._pings, return_exceptions=True)
            self._is_ready()

    async def verify(self, elections: Elections, raws: Sequence[bytes]) -> Verdicts | None:
        """Verdicts for ``raws`` spread over the workers; None if inline, if the workers are
        still starting, or if the pool failed (the caller then verifies inline).

        Requests are coalesced: those made in the same turn of the loop, or while every
        worker is busy, go to the workers together (one call per worker instead of one
        per request: each call is a pickle and a round trip on the worker's socket). Each request gets the verdicts of the whole batch: they
        are keyed by transaction hash and by every input checked, so another request's
        verdicts can only be recalled where the same check on the same inputs is made.
        A transaction already queued or running for an equal snapshot is not sent again:
        the request waits for that batch's verdicts."""
        if not self.workers or not raws or not self._is_ready():
            return None
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[Verdicts | None]] = []
        new: list[bytes] = []
        for raw in raws:
            # a transaction already on its way to a worker for this snapshot (a forwarded
            # one, when the proposal carrying it arrives) is not sent twice: wait for it
            p = self._pending.get(raw)
            if p is not None and not p[1].done() and (p[0] is elections or p[0] == elections):
                if p[1] not in waits:
                    waits.append(p[1])
            else:
                new.append(raw)
        if new:
            fut: asyncio.Future[Verdicts | None] = loop.create_future()
            self._queue.append((elections, new, fut))
            for raw in new:
                self._pending[raw] = (elections, fut)
            waits.append(fut)
            self._schedule(loop)
        # shielded: a caller that is cancelled (a client gone) must not cancel the
        # verdicts other callers wait for
        results = [await asyncio.shield(w) for w in waits]
        if any(r is None for r in results):
            return None
        if len(results) == 1:
            return results[0]
        return Verdicts.merged([r for r in results if r])

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._queue and (self._idle or not self.ready) and not self._dispatching:
            self._dispatching = True
            loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Send the queued requests for one election snapshot (the oldest request's) to
        the free workers, in one call per worker."""
        self._dispatching = False
        if not self._queue:
            return
        if not self._is_ready():  # the pool failed meanwhile and is restarting: inline
            self._flush_inline()
            return
        if not self._idle:
            return
        elections = self._queue[0][0]
        batch = [q for q in self._queue if q[0] is elections or q[0] == elections]
        self._queue = [q for q in self._queue if not (q[0] is elections or q[0] == elections)]
        raws = [r for _, rs, _ in batch for r in rs]
        futs = [f for _, _, f in batch]
        k = min(len(self._idle), len(raws))
        workers, self._idle = self._idle[:k], self._idle[k:]
        task = asyncio.get_running_loop().create_task(
            self._run(elections, workers, [tuple(raws[i::k]) for i in range(k)]))
        task.add_done_callback(lambda t: self._done(t, futs, workers, raws))

    def _flush_inline(self) -> None:
        """Answer every queued request None (verify inline): no request may wait on a
        pool that is not there."""
        for _, rs, f in self._queue:
            if not f.done():
                f.set_result(None)
            for raw in rs:
                self._pending.pop(raw, None)
        self._queue = []

    async def _run(self, elections: Elections, workers: list[PipeWorker],
                   parts: list[tuple[bytes, ...]]) -> Verdicts | None:
        try:
            results = await asyncio.gather(
                *(w.call(verify_txs, self.chain_id, elections, p) for w, p in zip(workers, parts, strict=True)))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a broken worker must not stop the node
            self.failures += 1
            log.warning("verification worker failed; verifying inline", error=type(e).__name__)
            if all(w in self._procs for w in workers):  # (not already replaced)
                self._restart()
            return None
        return Verdicts.merged(results)

    def _done(self, task: asyncio.Task[Verdicts | None], futs: list[asyncio.Future[Verdicts | None]],
              workers: list[PipeWorker], raws: list[bytes]) -> None:
        # back to work, unless replaced meanwhile (a restart closed them)
        self._idle += [w for w in workers if w in self._procs and w not in self._idle]
        for raw in raws:
            p = self._pending.get(raw)
            if p is not None and p[1] in futs:
                del self._pending[raw]
        result = None if task.cancelled() or task.exception() is not None else task.result()
        if result is not None:
            result.record(self.checker)
        for f in futs:
            if not f.done():
                f.set_result(result)
        self._schedule(asyncio.get_running_loop())

    def _restart(self) -> None:
        """Replace a broken pool and start its workers now; until they are up, requests
        are verified inline (a restarting node must not wait behind their start-up)."""
        old, self._procs, self._idle = self._procs, [], []
        self.ready, self._pings = False, []
        for w in old:
            w.close(wait=False)
        try:
            self._start_workers()
        except Exception as e:  # noqa: BLE001 - the next request retries
            log.warning("could not restart verification workers", error=type(e).__name__)
            self._procs, self._idle = [], []
            self._retry_at = time.monotonic() + RESTART_RETRY_S
            self._flush_inline()

    def close(self) -> None:
        for p in self._pings:
            p.cancel()
        for w in self._procs:
            w.close()
        self._procs, self._idle, self._pings = [], [], []
