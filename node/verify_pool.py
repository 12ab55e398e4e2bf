"""Signature and ballot-proof checks on worker processes, so a node uses all its cores.

A ballot's proofs are most of a validator's CPU. Run on the event loop, they cap
a node at what one core verifies and delay consensus messages behind them. Here
they run on a pool of worker processes; the loop keeps consensus, networking and
commits, and the cheap stateful rules.

The work item is a pure function of bytes, ``verify_txs(chain_id, elections,
raws)``: the chain id, each open election's manifest bytes and joint key (read
from the tip state by the loop), and the transactions. It returns verdicts under
the keys of ``ballot_tx.checks`` (``signature_key(h, chain_id)``,
``ballot_key(h, joint_key)``), which name every input the check read, so a
verdict from a worker is only ever used where the same check on the same inputs
would be run (the committed-state rule of issue 11): a stale election snapshot
can only cause a key miss, and a miss only costs an inline check.

* **Positive verdicts** are fed into the ledger's ``MemoChecker``; admission,
  the proposer's ``select_txs`` and ``Ledger.validate`` then recall them.
* **Refusals** are kept only for the admission check that asked for them
  (``Refusals``): the stateful rules run on the loop in their usual order, and
  when they reach the refused check they raise the worker's error, so a bad
  ballot is refused with the same code as inline, without a second verification
  on the loop. Refusals are never memoised.

Failure is never fatal: a worker that dies (or any pool error) is logged, the
pool is replaced, and the transactions of that request are verified inline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ballot_tx.block import tx_hash
from ballot_tx.checks import Checker, MemoChecker, ballot_key, signature_key
from ballot_tx.codec import decode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from ballot_tx.manifest import Manifest
from ballot_tx.state.records import KEY_OPEN, OpenElections
from ballot_tx.state.snapshot import State
from ballot_tx.tx import CastBallot, SpoilBallot, Tx, check_signature, decode_tx
from node import logs

log = logs.get("verify")

#: election id -> (canonical manifest bytes, joint key): what a ballot's proofs read.
Elections = dict[bytes, tuple[bytes, bytes]]


def open_elections(state: State) -> Elections:
    """Each open election's manifest bytes and joint key in ``state``: what the ballots of
    the next block (or the next admissions) are checked against."""
    out: Elections = {}
    data = state.get(KEY_OPEN)
    for eid in () if data is None else decode(OpenElections, data).ids:
        st = state.election(eid)
        mbytes = state.get(b"M" + eid)
        if st is not None and st.joint_key is not None and mbytes is not None:
            out[eid] = (mbytes, st.joint_key)
    return out


def default_workers() -> int:
    """The host's cores (those this process may run on) minus one for the event loop."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, cores - 1)


@dataclass(frozen=True)
class Verdicts:
    """What a worker found: keys of checks that passed, and (key, code, message) of refusals."""

    ok: tuple[bytes, ...] = ()
    refused: tuple[tuple[bytes, str, str], ...] = ()

    def absorb(self, checker: MemoChecker) -> dict[bytes, tuple[str, str]]:
        """Record the positive verdicts in ``checker``; return the refusals by key."""
        for k in self.ok:
            checker.add(k)
        return {k: (code, msg) for k, code, msg in self.refused}


# --- the work item (runs in a worker; pure) ------------------------------------------

_MANIFESTS: dict[bytes, Manifest] = {}


def _manifest(data: bytes) -> Manifest:
    m = _MANIFESTS.get(data)
    if m is None:
        if len(_MANIFESTS) > 64:
            _MANIFESTS.clear()
        m = _MANIFESTS[data] = decode(Manifest, data)
    return m


def verify_txs(chain_id: bytes, elections: Elections, raws: Sequence[bytes]) -> Verdicts:
    """Check each transaction's signature and, for a ballot or spoil of an election in
    ``elections``, its proofs. A transaction that does not decode, or a check that fails
    with anything but a ``BallotchainError``, gets no verdict: the inline check names it."""
    ok: list[bytes] = []
    refused: list[tuple[bytes, str, str]] = []
    for raw in raws:
        try:
            tx = decode_tx(raw)
        except BallotchainError:
            continue
        h = tx_hash(raw)
        sk = signature_key(h, chain_id)
        try:
            check_signature(tx, chain_id, raw)
        except BallotchainError as e:
            refused.append((sk, str(e.code), e.message))
            continue
        except Exception:  # noqa: BLE001 - left to the inline check, which behaves as before
            continue
        ok.append(sk)
        body = tx.body
        if not isinstance(body, CastBallot | SpoilBallot) or body.election_id not in elections:
            continue
        mbytes, joint = elections[body.election_id]
        bk = ballot_key(h, joint)
        try:
            m = _manifest(mbytes)
            if isinstance(body, CastBallot):
                if body.ballot.election_id != body.election_id:
                    continue  # a rule before the proofs refuses it
                ballot_crypto.verify_ballot(m, joint, tx.signer, body.ballot)
            else:
                ballot_crypto.verify_spoiled(m, joint, tx.signer, body.ballot, body.secrets)
        except BallotchainError as e:
            refused.append((bk, str(e.code), e.message))
            continue
        except Exception:  # noqa: BLE001
            continue
        ok.append(bk)
    return Verdicts(tuple(ok), tuple(refused))


def _worker_init(parent: int) -> None:
    # The node handles SIGINT/SIGTERM and shuts the pool down; a Ctrl-C sent to the
    # process group must not print a traceback from every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        # A node killed with SIGKILL cannot shut its pool down, and a worker blocked on
        # its task queue would never notice: leave as soon as the node is gone.
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ping() -> int:
    return os.getpid()


# --- refusals for one admission check ------------------------------------------------


class Refusals(Checker):
    """A checker for one admission: raises a worker's refusal where the rules reach that
    exact check, and otherwise asks ``inner`` (the ledger's memoising checker)."""

    def __init__(self, inner: MemoChecker, refused: dict[bytes, tuple[str, str]]) -> None:
        self.inner = inner
        self.refused = refused

    def _raise_if_refused(self, key: bytes) -> None:
        r = self.refused.get(key)
        if r is not None:
            raise TxError(ErrorCode(r[0]), r[1])

    def signature(self, tx_hash: bytes, tx: Tx, chain_id: bytes, raw: bytes | None) -> None:
        self._raise_if_refused(signature_key(tx_hash, chain_id))
        self.inner.signature(tx_hash, tx, chain_id, raw)

    def commitment(self, tx_hash: bytes, m: Manifest, c: trustee_crypto.TrusteeCommitment) -> None:
        self.inner.commitment(tx_hash, m, c)

    def reveal(
        self,
        tx_hash: bytes,
        m: Manifest,
        commitment: trustee_crypto.TrusteeCommitment,
        reveal: trustee_crypto.ShareReveal,
    ) -> None:
        self.inner.reveal(tx_hash, m, commitment, reveal)

    def ballot(
        self, tx_hash: bytes, m: Manifest, joint_key: bytes, voter: bytes, b: ballot_crypto.EncryptedBallot
    ) -> None:
        self._raise_if_refused(ballot_key(tx_hash, joint_key))
        self.inner.ballot(tx_hash, m, joint_key, voter, b)

    def spoiled(
        self,
        tx_hash: bytes,
        m: Manifest,
        joint_key: bytes,
        voter: bytes,
        b: ballot_crypto.EncryptedBallot,
        secrets: ballot_crypto.BallotSecrets,
    ) -> None:
        self._raise_if_refused(ballot_key(tx_hash, joint_key))
        self.inner.spoiled(tx_hash, m, joint_key, voter, b, secrets)

    def decryption_share(
        self,
        tx_hash: bytes,
        m: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        share: tally_crypto.DecryptionShare,
    ) -> None:
        self.inner.decryption_share(tx_hash, m, commitments, tally, share)

    def result(
        self,
        tx_hash: bytes,
        m: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        shares: Sequence[tally_crypto.DecryptionShare],
        result: tally_crypto.TallyResult,
    ) -> None:
        self.inner.result(tx_hash, m, commitments, tally, shares, result)


# --- the pool ------------------------------------------------------------------------


class VerifyPool:
    """``workers`` processes (started with ``spawn``: the node's loop, sockets and LevelDB
    handle are not inherited). ``workers == 0`` means inline: every call returns None."""

    def __init__(self, workers: int, chain_id: bytes) -> None:
        self.workers = workers
        self.chain_id = chain_id
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.failures = 0
        # False until the workers have started (spawned, crypto imported): meanwhile, and
        # while a replaced pool starts, requests are answered None (verify inline) rather
        # than queued behind the start-up: a node restarting to catch up must not wait.
        self.ready = False
        self._pings: list[concurrent.futures.Future[int]] = []
        # coalescing (see ``verify``): waiting requests, worker calls in flight
        self._queue: list[tuple[Elections, list[bytes], asyncio.Future[Verdicts | None]]] = []
        self._busy = 0
        self._dispatching = False
        #: raw transaction -> the snapshot and batch it is queued or running in
        self._pending: dict[bytes, tuple[Elections, asyncio.Future[Verdicts | None]]] = {}

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init, initargs=(os.getpid(),),
            )
        return self._pool

    def pids(self) -> list[int]:
        """The worker processes' ids (for the CPU split of a benchmark, and tests)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return [p for p in procs]

    def _start_workers(self) -> None:
        pool = self._executor()
        self._pings = [pool.submit(_ping) for _ in range(self.workers)]

    def _is_ready(self) -> bool:
        """True once every worker of the current pool has answered its start-up ping."""
        if not self.ready and self._pings and all(p.done() for p in self._pings):
            if any(p.cancelled() or p.exception() is not None for p in self._pings):
                self._restart()  # broke while starting: try a new pool
            else:
                self.ready, self._pings = True, []
        return self.ready

    async def start(self) -> None:
        """Start every worker now; requests are verified inline until they are up."""
        if self.workers:
            self._start_workers()
            await asyncio.gather(*(asyncio.wrap_future(p) for p in self._pings), return_exceptions=True)
            self._is_ready()

    async def verify(self, elections: Elections, raws: Sequence[bytes]) -> Verdicts | None:
        """Verdicts for ``raws`` spread over the workers; None if inline, if the workers are
        still starting, or if the pool failed (the caller then verifies inline).

        Requests are coalesced: those made in the same turn of the loop, or while every
        worker is busy, go to the workers together (one call per worker instead of one
        per request: a call costs ~0.45 ms of the loop's process, pickling and threads,
        and ~0.1 ms of a worker). Each request gets the verdicts of the whole batch: they
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
        return Verdicts(tuple(k for r in results if r for k in r.ok),
                        tuple(x for r in results if r for x in r.refused))

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._queue and self._busy < self.workers and not self._dispatching:
            self._dispatching = True
            loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Send the queued requests for one election snapshot (the oldest request's) to
        the free workers, in one call per worker."""
        self._dispatching = False
        if not self._queue or self._busy >= self.workers:
            return
        if not self._is_ready():  # the pool failed meanwhile and is restarting: inline
            for _, rs, f in self._queue:
                if not f.done():
                    f.set_result(None)
                for raw in rs:
                    self._pending.pop(raw, None)
            self._queue = []
            return
        elections = self._queue[0][0]
        batch = [q for q in self._queue if q[0] is elections or q[0] == elections]
        self._queue = [q for q in self._queue if not (q[0] is elections or q[0] == elections)]
        raws = [r for _, rs, _ in batch for r in rs]
        futs = [f for _, _, f in batch]
        k = min(self.workers - self._busy, len(raws))
        self._busy += k
        task = asyncio.get_running_loop().create_task(self._run(elections, [tuple(raws[i::k]) for i in range(k)]))
        task.add_done_callback(lambda t: self._done(t, futs, k, raws))

    async def _run(self, elections: Elections, parts: list[tuple[bytes, ...]]) -> Verdicts | None:
        loop = asyncio.get_running_loop()
        try:
            pool = self._executor()
            futs = [loop.run_in_executor(pool, verify_txs, self.chain_id, elections, p) for p in parts]
            results = await asyncio.gather(*futs)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a broken worker must not stop the node
            self.failures += 1
            log.warning("verification worker failed; verifying inline", error=type(e).__name__)
            self._restart()
            return None
        return Verdicts(
            tuple(k for r in results for k in r.ok), tuple(x for r in results for x in r.refused)
        )

    def _done(self, task: asyncio.Task[Verdicts | None], futs: list[asyncio.Future[Verdicts | None]],
              k: int, raws: list[bytes]) -> None:
        self._busy -= k
        for raw in raws:
            p = self._pending.get(raw)
            if p is not None and p[1] in futs:
                del self._pending[raw]
        result = None if task.cancelled() or task.exception() is not None else task.result()
        for f in futs:
            if not f.done():
                f.set_result(result)
        self._schedule(asyncio.get_running_loop())

    def _restart(self) -> None:
        """Replace a broken pool and start its workers now; until they are up, requests
        are verified inline (a restarting node must not wait behind their start-up)."""
        old, self._pool = self._pool, None
        self.ready, self._pings = False, []
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        try:
            self._start_workers()
        except Exception as e:  # noqa: BLE001 - the next request retries
            log.warning("could not restart verification workers", error=type(e).__name__)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
