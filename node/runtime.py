"""The node runtime: carries the PBFT state machine's actions out as I/O.

One asyncio loop per process. Consensus is a pure ``step(state, event) ->
(state, actions)``; this module turns sockets, timers and the clock into
events, and executes the actions **in list order** on the loop thread:

* ``Persist``: a synced LevelDB write, done before the next action runs, so every
  ``Send`` of a signed message that follows it is on disk first (a validator
  killed at any moment restarts from that record and cannot sign a conflicting
  message).
* ``Send``: queued on the peer links (never blocks; bounded queues).
* ``SetTimer``/``CancelTimer``: ``loop.call_later``; expiry feeds ``TimerFired``.
  The view timer is PBFT's "I am waiting for a request" timer (Castro-Liskov
  4.4): while this node has no pending transaction, no uncommitted proposal of the
  current primary and no election to close, an expiry is re-armed instead of starting
  a view change, so an idle network neither churns views nor grows empty blocks.
* ``RequestProposal``: the producer builds a block; ``ProposalReady`` follows.
* ``CommitBlock``: one synced WriteBatch (block, certificate, indexes, state);
  ``Executed(height, state_root)`` follows.
* ``Fetch``: certified blocks from the named peers; ``FetchedBlocks`` follows.

Observers run no consensus: they follow their peers' certified blocks
(``node.sync``), verify each certificate from genesis and re-execute it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ballot_tx.block import Block
from ballot_tx.codec import decode, encode, pack
from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from ballot_tx.keys import KeyPair
from consensus.certificate import CommitCertificate
from consensus.events import (
    CancelTimer,
    CommitBlock,
    Event,
    Executed,
    Fetch,
    FetchedBlocks,
    Persist,
    ProposalReady,
    Received,
    RequestProposal,
    SafetyRecord,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from consensus.messages import PrePrepare, decode_message, encode_message
from consensus.replica import VIEW_TIMER, ReplicaState, init_state, step
from genesis.document import Genesis, from_json, genesis_hash
from node import guard, integrity, logs, service, views
from node.backup import add_backup_route
from node.config import NodeConfig, PeerAddress
from node.ledger import Ledger
from node.mempool import Mempool
from node.metrics import Metrics
from node.ops import Operations, PeerFigures, Sample
from node.peers import (
    TOPIC_CONSENSUS,
    TOPIC_TXS,
    PeerLink,
    add_routes,
    client_ssl_context,
    preamble,
    seal,
    server_ssl_context,
)
from node.producer import Producer
from node.server import make_app
from node.store import Store
from node.sync import TipWatcher, fetch_certified
from node.verify_pool import Refusals, VerifyPool, default_workers
from node.web import add_web_routes

log = logs.get("node")

SAFETY_KEY = integrity.SAFETY_KEY
#: The background full integrity check runs this long after start, then daily.
FULL_CHECK_DELAY_S = 2.0
FULL_CHECK_EVERY_S = 86_400.0
REFORWARD_TICK_S = 1.0
SWEEP_S = 3.0
SWEEP_SLICE = 200
FOLLOW_POLL_S = 0.2


class NodeError(BallotchainError):
    """The node cannot start or serve as configured."""


def load_genesis(path: Path) -> Genesis:
    try:
        text = path.read_text()
    except OSError as e:
        raise NodeError(ErrorCode.NODE_HOME_INVALID, f"cannot read genesis {path}: {e.strerror}") from None
    return from_json(text)


class Node:
    """One validator or observer: store, ledger, mempool, consensus, HTTP, peers."""

    def __init__(self, cfg: NodeConfig, keys: KeyPair, genesis: Genesis) -> None:
        self.cfg = cfg
        self.keys = keys
        self.genesis = genesis
        self.chain_id = genesis_hash(genesis)
        self.metrics = Metrics()
        # operator log lines and scrape-time figures (node/ops.py)
        self.ops = Operations(cfg.data_dir, self.metrics)
        self.metrics.set_build(genesis.chain_id, self.chain_id.hex(), keys.node_id, cfg.mode)
        self.metrics.live.provider = lambda: self.ops.families(self._ops_sample())
        self.index = genesis.validator_index(keys.ed25519_public)
        if cfg.mode == "validator" and self.index is None:
            raise NodeError(ErrorCode.NODE_HOME_INVALID, "mode is validator but the key is not a genesis validator")
        if cfg.mode == "observer" and not any(
            m.ed25519_public == keys.ed25519_public for m in genesis.observers
        ):
            log.warning("observer key is not listed in genesis; it cannot forward transactions")
        self.is_validator = cfg.mode == "validator"
        lim = cfg.limits
        self.max_block_txs = lim.max_block_txs or genesis.params.max_block_txs
        self.block_interval_ms = lim.block_interval_ms or genesis.params.block_interval_ms
        self.store: Store | None = None
        self.ledger: Ledger = None  # type: ignore[assignment]  # set in start()
        self.mempool: Mempool = None  # type: ignore[assignment]
        self.replica: ReplicaState | None = None
        self.links: dict[str, PeerLink] = {}
        self.validator_links: dict[int, PeerLink] = {}
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.watcher: TipWatcher | None = None
        self.producer: Producer | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._idle_view_timer: tuple[str, int, int] | None = None
        self._proposing: asyncio.Task[None] | None = None
        self._fetching: asyncio.Task[None] | None = None
        self._waiters: dict[bytes, list[asyncio.Future[dict[str, Any]]]] = {}
        self._last_fetch = 0.0
        self._rejected_seen: dict[str, int] = {}  # replica.rejected already in the metrics
        self.started = time.time()
        self.fatal: BallotchainError | None = None  # why the node stopped itself
        self.damaged: str | None = None  # why this node stopped voting (its store is damaged)
        self.halted = asyncio.Event()
        self.verifier: VerifyPool | None = None  # signature and proof checks on other cores
        self._admitting: set[asyncio.Task[None]] = set()

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        guard.install_log_limiter()
        budget = guard.fd_budget(cfg.limits.max_connections)
        self.store = Store(cfg.data_dir, self.genesis, max_open_files=budget.db_files)
        self.store.on_corrupt = self._on_corrupt
        self.ledger = Ledger(self.store, self.genesis, self.chain_id)
        found = integrity.quick_check(self.store)
        if found:
            integrity.log_problems(found, "start")
            self.damage(f"{len(found)} damaged records found at start, first: {found[0]}")
        self._start_verifier()
        self.mempool = Mempool(
            self._admission_check,
            lambda h: self.ledger.store.find_tx(h) is not None,
            cfg.limits.mempool_max_txs,
            cfg.limits.client_rate_per_s,
        )
        ssl_client = client_ssl_context(str(cfg.tls_ca) if cfg.tls_ca else None)
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10, sock_connect=2),
            connector=aiohttp.TCPConnector(ssl=ssl_client, limit=64),
        )
        self._make_links()
        app = make_app(self, self.metrics, cfg.limits.max_request_bytes, cfg.limits.commit_wait_s,
                       cfg.limits.body_timeout_s)
        add_routes(app, self, self.genesis, self.chain_id)  # larger, authenticated peer bodies
        add_web_routes(app, self.genesis)  # the voting page at /vote/ (node/web.py)
        add_backup_route(app, lambda: self.store, self.genesis)  # node/backup.py, own host only
        self.conn_guard = guard.ConnectionGuard(budget.connections)
        app.middlewares.insert(0, self.conn_guard.middleware)
        # keepalive_timeout also bounds how long request headers may take (node.guard)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2,
                                    keepalive_timeout=cfg.limits.idle_timeout_s, lingering_time=0)
        await self.runner.setup()
        ssl_server = None
        if cfg.tls_cert and cfg.tls_key:
            try:
                ssl_server = server_ssl_context(str(cfg.tls_cert), str(cfg.tls_key))
            except (OSError, ValueError) as e:
                raise NodeError(ErrorCode.CONFIG_TLS, f"cannot load TLS certificate/key: {e}") from None
        site = guard.GuardedSite(self.runner, self.conn_guard, cfg.listen_host, cfg.listen_port,
                                 ssl_context=ssl_server, reuse_address=True)
        await site.start()
        urls = [link.url for link in self.links.values()]
        self.watcher = TipWatcher(self.session, urls, lambda: self.ledger.height)
        self._spawn(self.watcher.run(), "tips")
        for link in self.links.values():
            link.start()
        self._update_gauges()
        if self.is_validator:
            assert self.index is not None
            raw = self.store.get_meta(SAFETY_KEY)
            record = None if raw is None else decode(SafetyRecord, raw)
            self.replica = init_state(
                self.genesis, self.index, self.chain_id, self.keys, self.ledger,
                persisted=record,
                committed_height=self.ledger.height,
                committed_hash=self.ledger.tip_hash() if self.ledger.height else None,
            )
            self.producer = Producer(
                self.ledger, self.mempool, self.keys.ed25519_public,
                self.max_block_txs, self.block_interval_ms, self.phase_change_due,
                self.drop_invalid,
            )
            self._spawn(self._drive(), "consensus")
            self._spawn(self._catch_up_loop(), "catch-up")
            self._events.put_nowait(Start())
        else:
            self._spawn(self._follow(), "follow")
        self._spawn(self._sweep(), "sweep")
        self.ops.resume(self.ledger.state)
        self._spawn(self.ops.run(self._ops_sample), "ops")
        self._restore_pool()
        self._spawn(self._reforward(), "re-forward")
        self._spawn(self._full_checks(), "integrity")
        log.info(
            "node started", mode=self.cfg.mode, node_id=self.keys.node_id,
            listen=f"{cfg.listen_host}:{cfg.listen_port}", tls=cfg.tls,
            max_connections=budget.connections, nofile=budget.soft,
            height=self.ledger.height, chain=self.genesis.chain_id,
        )

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.append(task)

    async def _guard(self, coro: Any, name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BallotchainError as e:
            if e.code == ErrorCode.STORE_CORRUPT:  # not fixed by a restart: stay up, stop voting
                self.damage(e.message)
                return
            log.error("fatal error; stopping the node", task=name, code=e.code, reason=e.message)
            self.halt(e)
        except Exception as e:
            log.exception("task crashed; stopping the node", task=name)
            self.halt(NodeError(ErrorCode.NODE_INTERNAL, f"task {name} failed: {type(e).__name__}: {e}"))

    def _on_corrupt(self, err: StoreError) -> None:
        integrity.log_problems([integrity.Problem("read", err.message)], "read")
        self.damage(err.message)

    def damage(self, reason: str) -> None:
        """The store is damaged: stop voting (and following) until ``node resync``."""
        if self.damaged is None:
            self.damaged = reason
            log.error("store damaged; this node stops voting until it is resynced "
                      "(ballotchain node resync --home HOME)", code=str(ErrorCode.NODE_STORE_DAMAGED),
                      reason=reason)

    async def _full_checks(self) -> None:
        """Check every record in the background (a thread: LevelDB reads are thread-safe)."""
        await asyncio.sleep(FULL_CHECK_DELAY_S)
        while self.damaged is None:
            assert self.store is not None
            found = await asyncio.to_thread(integrity.full_check, self.store)
            if found:
                integrity.log_problems(found, "full")
                self.damage(f"{len(found)} damaged records found, first: {found[0]}")
            else:
                log.info("integrity check passed", height=self.ledger.height)
            await asyncio.sleep(FULL_CHECK_EVERY_S)

    def halt(self, err: BallotchainError) -> None:
        """Stop the node because of ``err``: ``run_node`` raises it after a clean stop,
        so the process exits non-zero with its code and a supervisor restarts it."""
        if self.fatal is None:
            self.fatal = err
        self.halted.set()

    async def stop(self) -> None:
        for h in self._timers.values():
            h.cancel()
        for t in [*self._tasks, self._proposing, self._fetching]:
            if t is not None:
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for link in self.links.values():
            await link.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()
        for t in list(self._admitting):
            t.cancel()
        if self.verifier is not None:
            self.verifier.close()
        if self.store is not None:
            self.store.close()
        log.info("node stopped", height=self.ledger.height if self.ledger else 0)

    # --- peers ------------------------------------------------------------------------

    def _make_links(self) -> None:
        assert self.session is not None
        scheme = "https" if self.cfg.tls_ca else "http"
        by_addr = {p.hostport: p for p in self.cfg.peers}
        by_id = {p.node_id: p for p in self.cfg.peers if p.node_id}
        used: set[str] = set()
        targets: list[tuple[str, int | None, str]] = []
        for i, v in enumerate(self.genesis.validators):
            if v.ed25519_public == self.keys.ed25519_public:
                continue
            p = by_id.get(v.node_id) or by_addr.get(v.address)
            url = p.url if p else f"{scheme}://{v.address}"
            if p:
                used.add(p.url)
            targets.append((url, i, f"validator-{i}"))
        if not self.is_validator and self.cfg.peers:
            # an observer follows and forwards to exactly the peers it was told about
            targets = [(u, i, lbl) for u, i, lbl in targets if u in used]
            extra: Iterable[PeerAddress] = [p for p in self.cfg.peers if p.url not in used]
            targets += [(p.url, None, p.hostport) for p in extra]
        sealer = self._seal
        for url, index, label in targets:
            link = PeerLink(url, self.session, sealer, self.cfg.limits.peer_queue_max,
                            self.metrics, label, self._announce)
            self.links[url] = link
            if index is not None:
                self.validator_links[index] = link

    def _seal(self, topic: str, payloads: Any) -> bytes:
        return seal(self.keys, self.chain_id, topic, payloads)

    def _announce(self, topic: str, length: int) -> str:
        return preamble(self.keys, self.chain_id, topic, length)

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        if self.replica is None:
            return
        for p in payloads:
            try:
                msg = decode_message(p)
            except BallotchainError as e:
                log.debug("bad consensus message", sender=sender_index, code=e.code)
                continue
            self._events.put_nowait(Received(msg, int(time.time() * 1000)))

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None:
        if self.verifier is not None:
            self._admit_forwarded(payloads)
            return
        for raw in payloads:
            try:
                self._admit(raw, client=None, local=False)
            except BallotchainError as e:
                log.debug("forwarded transaction refused", code=e.code)

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]:
        out: list[bytes] = []
        size = 0
        h = max(1, height)
        while len(out) < limit and h <= self.ledger.height:
            b = self.ledger.store.get_block(h)
            cert = self.ledger.store.get_certificate(h)
            if b is None or cert is None:
                break
            rec = pack([encode(b), cert])
            if out and size + len(rec) > max_bytes:
                break
            out.append(rec)
            size += len(rec)
            h += 1
        return out

    def tip(self) -> int:
        return self.ledger.height

    # --- consensus driver -------------------------------------------------------------

    async def _drive(self) -> None:
        while self.damaged is None:
            ev = await self._events.get()
            if self.damaged is None:
                await self._preverify(ev)
                self._feed(ev)

    def _feed(self, first: Event) -> None:
        """Step consensus on ``first`` and on every event its actions produce, in order."""
        pending: deque[Event] = deque([first])
        while pending:
            ev = pending.popleft()
            assert self.replica is not None
            before = (self.replica.view, self.replica.active)
            self.replica, actions = step(self.replica, ev)
            if (self.replica.view, self.replica.active) != before:
                self.ops.stepped(before, (self.replica.view, self.replica.active),
                                 self.replica.primary(self.replica.view), ev)
            for a in actions:
                follow = self._do(a)
                if follow is not None:
                    pending.append(follow)
        self._update_gauges()

    def _do(self, a: Any) -> Event | None:
        if isinstance(a, Persist):
            assert self.store is not None
            self.store.put_meta(SAFETY_KEY, encode(a.record), sync=True)
        elif isinstance(a, Send):
            if self.damaged is not None:
                return None  # a damaged store may have misled this step: sign nothing more
            try:
                payload = encode_message(a.message)
            except BallotchainError as e:
                # Never reached with the genesis block-size cap and the replica's byte budget
                # for carried blocks; if it were, drop this message (the protocol retransmits
                # or changes view) instead of letting the error stop the driver.
                log.error("consensus message not sent", code=e.code, reason=e.message,
                          kind=type(a.message.body).__name__)
                return None
            targets = self.validator_links.values() if a.to is None else [
                self.validator_links[a.to]] if a.to in self.validator_links else []
            for link in targets:
                link.send(TOPIC_CONSENSUS, payload)
        elif isinstance(a, SetTimer):
            self._set_timer(a.name, a.token, a.delay_ms)
        elif isinstance(a, CancelTimer):
            h = self._timers.pop(a.name, None)
            if h is not None:
                h.cancel()
        elif isinstance(a, RequestProposal):
            if self._proposing is not None:
                self._proposing.cancel()
            self._proposing = asyncio.get_running_loop().create_task(
                self._propose(a.height, a.view, a.prev_hash))
        elif isinstance(a, CommitBlock):
            block = self.ledger.commit(a.block, a.certificate)
            self._after_commit(block)
            return Executed(a.height, self.ledger.state.root)
        elif isinstance(a, Fetch):
            urls = [self.validator_links[i].url for i in a.peers if i in self.validator_links]
            if self.watcher is not None:  # responsive peers first (a silent one costs a timeout)
                urls.sort(key=lambda u: not self.watcher.reachable.get(u))  # type: ignore[union-attr]
            self._start_fetch(urls, a.from_height)
        return None

    def _set_timer(self, name: str, token: int, delay_ms: int) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        if name == VIEW_TIMER:
            self._idle_view_timer = None

        def fire() -> None:
            self._timers.pop(name, None)
            if name == VIEW_TIMER and not self._has_work():
                # idle: nothing to suspect the primary of. Keep polling (an election may
                # come due), and remember the timer so that work arriving restarts it
                # with its full delay (Castro-Liskov 4.4: the timer starts when a request
                # arrives). Re-arming only on expiry kept every replica's timer in phase
                # with the last commit, and traffic resuming just before it fired changed
                # the view of a healthy network (issue 12, fault 7).
                self._set_timer(name, token, delay_ms)
                self._idle_view_timer = (name, token, delay_ms)
                return
            self._events.put_nowait(TimerFired(name, token))

        self._timers[name] = asyncio.get_running_loop().call_later(delay_ms / 1000, fire)

    def _work_arrived(self) -> None:
        """A transaction was admitted: an idle view timer restarts from now."""
        idle = self._idle_view_timer
        if idle is not None:
            self._set_timer(*idle)

    def _has_work(self) -> bool:
        st = self.replica
        if st is None or not st.active:
            return True
        if len(self.mempool) or self.phase_change_due():
            return True
        # Only a proposal of the current primary that has not committed is work for this
        # view: a slot left from an earlier view (an untimely or invalid proposal that the
        # view change already answered), or one opened by a stray PREPARE/COMMIT of a
        # faulty backup, must not make an idle network churn views (round robin would soon
        # hand the primary role back to the faulty validator).
        return any(
            h > st.last_committed and v == st.view and slot.pp_hash is not None
            for (v, h), slot in st.log.items()
        )

    async def _propose(self, height: int, view: int, prev_hash: bytes) -> None:
        assert self.producer is not None
        try:
            block = await self.producer.produce(height, prev_hash)
        except BallotchainError as e:
            log.error("could not build a block", height=height, code=e.code, reason=e.message)
            return
        if block is not None:
            log.debug("proposing", height=height, view=view, txs=len(block.txs))
            self._events.put_nowait(ProposalReady(height, view, encode(block)))

    def _start_fetch(self, urls: list[str], height: int) -> None:
        if self._fetching is not None and not self._fetching.done():
            return
        self._last_fetch = time.monotonic()
        self._fetching = asyncio.get_running_loop().create_task(self._fetch(urls, height))

    async def _fetch(self, urls: list[str], height: int) -> None:
        assert self.session is not None
        assert self.watcher is not None
        records = await fetch_certified(self.session, urls, height, self.watcher.failed)
        blocks = []
        for blk, cert in records:
            try:
                blocks.append((blk, decode(CommitCertificate, cert)))
            except BallotchainError:
                break
        if blocks:
            log.info("fetched blocks", first=height, count=len(blocks))
        self._events.put_nowait(FetchedBlocks(tuple(blocks)))

    async def _catch_up_loop(self) -> None:
        """Fetch when peers' tips show we are behind and consensus has not noticed yet."""
        assert self.watcher is not None
        while True:
            await asyncio.sleep(0.5)
            ahead = self.watcher.ahead()
            if ahead and self.watcher.best_tip > self.ledger.height + 1 or (
                ahead and self.watcher.catching_up()
            ):
                if time.monotonic() - self._last_fetch > 1.0:
                    self._start_fetch(ahead, self.ledger.height + 1)

    # --- observer ---------------------------------------------------------------------

    async def _follow(self) -> None:
        assert self.watcher is not None and self.session is not None
        while self.damaged is None:
            urls = self.watcher.ahead() or self.watcher.responsive()
            records = await fetch_certified(self.session, urls, self.ledger.height + 1,
                                            self.watcher.failed)
            await self._preverify_blocks([blk for blk, _ in records])
            for blk, cert in records:
                try:
                    block = self.ledger.commit_certified(blk, cert)
                except StoreError:
                    raise  # our own disk, not the peer's block: fatal (see _guard)
                except BallotchainError as e:
                    log.warning("refused a fetched block", height=self.ledger.height + 1,
                                code=e.code, reason=e.message)
                    break
                self._after_commit(block)
                self._update_gauges()
            if not records:
                self.watcher.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.watcher.changed.wait(), FOLLOW_POLL_S)

    # --- commits, mempool -------------------------------------------------------------

    def _after_commit(self, block: Block) -> None:
        hashes = block.tx_hashes()
        removed = self.mempool.remove(hashes)
        assert self.store is not None
        self.store.pool_delete([p.tx_hash for p in removed if p.local])
        now = time.monotonic()
        for p in removed:
            if p.local:
                self.metrics.commit_latency.observe(now - p.admitted_at)
        self.metrics.blocks_committed.inc()
        self.metrics.txs_committed.inc(len(hashes))
        self.ops.committed(block, len(encode(block)),
                           None if self.replica is None else self.replica.view, self.ledger.state)
        for i, h in enumerate(hashes):
            for fut in self._waiters.pop(h, []):
                if not fut.done():
                    fut.set_result({"height": block.height, "index": i,
                                    "block_hash": block.hash.hex()})
        if self.producer is not None:
            self.producer.changed.set()
        if block.height % 100 == 0 or hashes:
            log.debug("committed", height=block.height, txs=len(hashes))

    def drop_invalid(self, dropped: list[tuple[Any, BallotchainError]]) -> None:
        """Pending transactions found invalid after all: out of the pool, waiters told why,
        and the outcome kept so ``GET /v1/txs/{hash}`` can say expired or rejected."""
        self.mempool.remove(p.tx_hash for p, _ in dropped)
        if dropped:
            assert self.store is not None
            self.store.pool_delete([p.tx_hash for p, _ in dropped])
        for p, err in dropped:
            self._record_outcome(p.tx_hash, err, getattr(p.tx, "expires_ms", None), p.local)
            self.metrics.txs_rejected.labels(code=str(err.code)).inc()
            for fut in self._waiters.pop(p.tx_hash, []):
                if not fut.done():
                    fut.set_exception(err)
        if dropped:
            log.info("dropped pending transactions that became invalid", count=len(dropped))

    async def _sweep(self) -> None:
        """Every few seconds, re-check pending transactions against the moved tip.

        Commits can invalidate pending transactions (expired, election closed, a
        conflicting one included); a validator that is not primary would otherwise
        keep them forever. Verdicts are cached, so a re-check costs a decode and
        a few state reads; it runs in slices so consensus is never held up long.
        """
        checked_at = -1
        while True:
            await asyncio.sleep(SWEEP_S)
            if self.ledger.height == checked_at or not len(self.mempool):
                continue
            checked_at = self.ledger.height
            pending = self.mempool.batch(len(self.mempool))
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
            self._update_gauges()

    def _admission_check(self, raw: bytes) -> tuple[bytes, Any]:
        return self.ledger.check_tx(raw)

    def _admit(self, raw: bytes, client: str | None, local: bool, check: Any = None) -> bytes:
        try:
            p, new = self.mempool.add(raw, client, local, check)
            if new and local:
                try:
                    assert self.store is not None
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
            self._work_arrived()
            self.metrics.txs_admitted.inc()
            self.metrics.mempool_size.set(len(self.mempool))
            if local:
                for link in self.validator_links.values() if self.is_validator else self.links.values():
                    link.send(TOPIC_TXS, raw)
            if self.producer is not None:
                self.producer.changed.set()
        return p.tx_hash

    def _record_outcome(self, h: bytes, err: BallotchainError, expires_ms: int | None,
                        acknowledged: bool) -> None:
        """Why ``h`` will never commit, for ``GET /v1/txs``; kept in the store (across
        restarts) when this node acknowledged it with a 202."""
        outcome = {"status": "expired" if err.code == ErrorCode.TX_EXPIRED else "rejected",
                   "error": str(err.code), "message": err.message, "expires_ms": expires_ms}
        self.mempool.record_outcome(h, outcome)
        if acknowledged:
            assert self.store is not None
            self.store.put_outcome(h, json.dumps(outcome).encode())

    def _forward_targets(self) -> list[PeerLink]:
        return list(self.validator_links.values() if self.is_validator else self.links.values())

    async def _reforward(self) -> None:
        """Re-send pending transactions to the validators until they commit or expire.

        The first forward can be lost (a partitioned or paused peer, a peer queue
        that overflowed, a primary that crashed holding it); a transaction
        answered 202 must still reach a primary. Each pending one is re-sent with
        a doubling backoff (3 s to 30 s), never more than the peer queues have
        room for, so re-sending cannot itself push messages out of a queue.
        """
        while True:
            await asyncio.sleep(REFORWARD_TICK_S)
            links = self._forward_targets()
            if not links or not len(self.mempool):
                continue
            room = min(self.cfg.limits.peer_queue_max // 2 - link.queued() for link in links)
            if room <= 0:
                continue
            due = self.mempool.due_for_forward(room)
            for p in due:
                for link in links:
                    link.send(TOPIC_TXS, p.raw)
            if due:
                log.debug("re-forwarded pending transactions", count=len(due))

    def _restore_pool(self) -> None:
        """Re-admit the transactions acknowledged before a crash or restart."""
        assert self.store is not None
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
                    self._record_outcome(h, e, None, True)
        self.store.pool_delete(gone)
        if kept or gone:
            log.info("restored pending transactions", kept=kept, dropped=len(gone))

    # --- verification pool (node.verify_pool) -------------------------------------------
    # Signatures and ballot proofs are checked on worker processes before the stateful
    # rules run on the loop; verdicts come back under keys naming every input checked.

    def _start_verifier(self) -> None:
        n = self.cfg.limits.verify_workers
        n = default_workers() if n < 0 else n
        if n > 0:
            self.verifier = VerifyPool(n, self.chain_id)
            self._spawn(self.verifier.start(), "verify-pool")
        log.info("verification workers", workers=n)

    async def _admit_verified(self, raw: bytes, client: str | None, local: bool) -> bytes:
        """Admission with the proofs checked on a worker: the mempool's cheap gate (rate
        limit, duplicate, bound) first, then the worker, then the stateful check on the
        loop with the verdicts recalled (a refusal raises the worker's error)."""
        if self.verifier is None:
            return self._admit(raw, client, local)
        try:
            known = self.mempool.gate(raw, client)
        except BallotchainError as e:
            self.metrics.txs_rejected.labels(code=str(e.code)).inc()
            raise
        if known is not None:
            return known.tx_hash
        verdicts = await self.verifier.verify(self.ledger.open_elections(), [raw])
        if verdicts is None:
            return self._admit(raw, None, local)
        refused = verdicts.absorb(self.ledger.checker)
        checker = Refusals(self.ledger.checker, refused) if refused else None
        return self._admit(raw, None, local, lambda r: self.ledger.check_tx(r, checker))

    def _admit_forwarded(self, payloads: tuple[bytes, ...]) -> None:
        """A peer's batch: verified in one request spread over the workers, then admitted
        in its order."""
        assert self.verifier is not None
        verifier = self.verifier

        async def run() -> None:
            todo = []
            for raw in payloads:
                try:
                    if self.mempool.gate(raw, None) is None:
                        todo.append(raw)
                except BallotchainError as e:
                    log.debug("forwarded transaction refused", code=e.code)
            verdicts = await verifier.verify(self.ledger.open_elections(), todo)
            refused = verdicts.absorb(self.ledger.checker) if verdicts is not None else {}
            checker = Refusals(self.ledger.checker, refused) if refused else None
            for raw in todo:
                try:
                    self._admit(raw, None, False, lambda r: self.ledger.check_tx(r, checker))
                except BallotchainError as e:
                    log.debug("forwarded transaction refused", code=e.code)

        task = asyncio.get_running_loop().create_task(run())
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    async def _preverify(self, ev: Event) -> None:
        """Check the proofs of blocks a consensus event brings on the workers before the
        event is stepped (``Ledger.validate`` then recalls the verdicts): a proposal from
        the primary of its view, and blocks this node fetched. Other carried blocks (view
        changes) are rarely validated; they are left to the inline check, so a faulty
        backup cannot make this node spend worker time on blocks it would never validate."""
        msg = ev.message if isinstance(ev, Received) else None
        if msg is not None and msg.blocks and isinstance(msg.body, PrePrepare):
            st = self.replica
            if st is not None and st.primary(msg.body.view) == msg.sender:
                await self._preverify_blocks(msg.blocks)
        elif isinstance(ev, FetchedBlocks) and ev.blocks:
            await self._preverify_blocks([b for b, _ in ev.blocks])

    async def _preverify_blocks(self, blocks: Iterable[bytes]) -> None:
        if self.verifier is None:
            return
        raws = self.ledger.unverified_txs(list(blocks))
        if raws:
            verdicts = await self.verifier.verify(self.ledger.open_elections(), raws)
            if verdicts is not None:
                verdicts.absorb(self.ledger.checker)

    def phase_change_due(self) -> bool:
        return views.phase_change_due(self.ledger.state, self.ledger.next_time_ms())

    def _update_gauges(self) -> None:
        m = self.metrics
        m.height.set(self.ledger.height)
        m.mempool_size.set(len(self.mempool))
        if self.replica is not None:
            m.view.set(self.replica.view)
            for code, n in self.replica.rejected.items():
                seen = self._rejected_seen.get(code, 0)
                if n > seen:  # the replica's own per-code tally, mirrored as a counter
                    m.consensus_rejected.labels(code=code).inc(n - seen)
                    self._rejected_seen[code] = n
        if self.watcher is not None:
            m.peers.set(sum(self.watcher.reachable.values()))
            m.catching_up.set(1 if self.watcher.catching_up() else 0)

    def _ops_sample(self) -> Sample:
        """Peers, catching up, own height and best peer tip, for node/ops.py."""
        height = self.ledger.height if self.ledger is not None else 0
        w = self.watcher
        if w is None:
            return [], False, height, 0
        peers = [PeerFigures(link.label, w.reachable.get(url, False), w.tips.get(url))
                 for url, link in self.links.items()]
        return peers, w.catching_up(), height, w.best_tip

    # --- client API backend -------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        assert self.watcher is not None
        self._update_gauges()
        st = self.replica
        peers = []
        for url, link in self.links.items():
            peers.append({
                "url": url, "name": link.label,
                "reachable": self.watcher.reachable.get(url, False),
                "height": self.watcher.tips.get(url),
                "queued": link.queued(),
            })
        return {
            "chain": self.genesis.chain_id,
            "chain_id": self.chain_id.hex(),
            "node_id": self.keys.node_id,
            "mode": self.cfg.mode,
            "validator_index": self.index,
            "height": self.ledger.height,
            "block_hash": self.ledger.tip_hash().hex(),
            "view": None if st is None else st.view,
            "primary": None if st is None else st.primary(st.view),
            "view_active": None if st is None else st.active,
            "catching_up": self.watcher.catching_up(),
            "peer_height": self.watcher.best_tip,
            "peers": peers,
            "peers_reachable": sum(self.watcher.reachable.values()),
            "mempool": len(self.mempool),
            "store_damaged": self.damaged,
            "uptime_s": round(time.time() - self.started, 1),
        }

    def block(self, height: int) -> dict[str, Any] | None:
        return views.block_view(self.ledger.store, height)

    def tx(self, h: bytes) -> dict[str, Any] | None:
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

    async def submit_tx(self, raw: bytes, client: str) -> bytes:
        if self.damaged is not None:
            raise NodeError(ErrorCode.NODE_STORE_DAMAGED, "this node's database is damaged; use another node")
        if self.is_validator or self.links:
            return await self._admit_verified(raw, client, local=True)
        raise NodeError(ErrorCode.NODE_UNAVAILABLE, "this observer has no validator to forward to")

    async def wait_commit(self, h: bytes, timeout_s: float) -> dict[str, Any] | None:
        found = self.ledger.store.find_tx(h)
        if found is not None:
            height, index = found
            return {"height": height, "index": index}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
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

    def election(self, eid: bytes) -> dict[str, Any] | None:
        return views.election_view(self.ledger.state, eid)

    def election_result(self, eid: bytes) -> dict[str, Any] | None:
        return views.result_view(self.ledger.state, eid)

    def receipt(self, h: bytes) -> dict[str, Any] | None:
        r = views.receipt_view(self.ledger.store, h)
        if r is not None:
            r["cancelled"] = views.ballot_cancelled(self.ledger.state, self.ledger.store, h)
        return r

    def voter(self, eid: bytes, key: bytes) -> dict[str, Any] | None:
        return views.voter_view(self.ledger.state, eid, key)


# --- process entry point ------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed node not yet reaped by its parent is a zombie: it owns nothing any more
    # (seen when a node with worker threads is restarted right after SIGKILL).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def claim_pid_file(path: Path) -> None:
    """Write our pid, refusing if a live process already owns this home."""
    try:
        old = int(path.read_text().strip())
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid() and _pid_alive(old):
        raise NodeError(ErrorCode.NODE_ALREADY_RUNNING, f"process {old} already runs from {path.parent}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


async def run_node(cfg: NodeConfig, keys: KeyPair, genesis: Genesis) -> None:
    """Run until SIGTERM/SIGINT, then stop cleanly (the store is closed, the pid file removed)."""
    claim_pid_file(cfg.pid_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    node = Node(cfg, keys, genesis)
    try:
        await node.start()
        service.notify(f"READY=1\nSTATUS=serving at height {node.ledger.height}")  # node/service.py
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.halted.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if node.fatal is None:
            log.info("stopping on signal")
        service.notify("STOPPING=1")
    finally:
        await node.stop()
        with contextlib.suppress(OSError):
            if cfg.pid_file.read_text().strip() == str(os.getpid()):
                cfg.pid_file.unlink()
    if node.fatal is not None:
        raise node.fatal

