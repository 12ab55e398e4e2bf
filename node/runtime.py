"""The node's lifecycle: builds its parts, wires them, starts them and stops them.

One asyncio loop per process (``node.process`` runs it). Every part is built in
``Node.__init__``, in dependency order, and each has a ``start``/``stop``;
``start`` starts them in this order and ``stop`` stops them in the reverse one:

====================  ==========================================================
part                  module
====================  ==========================================================
store, ledger         ``node.store``, ``node.ledger`` (opened in the constructor)
supervisor            ``node.supervisor``: guarded tasks, damaged and fatal states
verification          ``node.preverify``: the verification worker pool
http                  ``node.http_service``: client API, peer routes, voting page, backup;
                      their answers ``node.client_api`` and ``node.peer_api``
network               ``node.network``: peer links and tip watcher
driver / follower     ``node.driver`` (validator: PBFT actions as I/O) or
                      ``node.follower`` (observer: certified blocks from peers)
ops                   ``node.ops``: operator log lines; ``node.live_figures``: the
                      figures /metrics computes at scrape time
admission             ``node.admission``: pending pool (forwarding: ``node.forwarding``;
                      status and commit waiters: ``node.tx_status``)
integrity             ``node.integrity``: the background full check
====================  ==========================================================
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from ballot_tx.block import Block
from ballot_tx.codec import encode
from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from ballot_tx.keys import KeyPair
from ballot_tx.state.election import due_to_close
from genesis.document import Genesis, genesis_hash
from node import fd_budget, integrity, log_limit, logs
from node.admission import Admission
from node.client_api import ClientApi
from node.config import NodeConfig
from node.driver import ConsensusDriver
from node.errors import NodeError
from node.follower import Follower
from node.forwarding import Forwarding
from node.gauges import Gauges
from node.http_service import HttpService
from node.ledger import Ledger
from node.live_figures import LiveFigures
from node.mempool import Mempool, Pending
from node.metrics import Metrics
from node.network import PeerNetwork
from node.ops import Operations
from node.peer_api import PeerApi
from node.preverify import Verification
from node.producer import Producer
from node.store import Store
from node.supervisor import Supervisor, cancel_all
from node.tls import server_ssl_context
from node.tx_status import TxStatus

log = logs.get("node")

#: The background full integrity check runs this long after start, then daily.
FULL_CHECK_DELAY_S = 2.0
FULL_CHECK_EVERY_S = 86_400.0


class Node:
    """One validator or observer: store, ledger, mempool, consensus, HTTP, peers."""

    def __init__(self, cfg: NodeConfig, keys: KeyPair, genesis: Genesis) -> None:
        self.cfg = cfg
        self.keys = keys
        self.genesis = genesis
        self.chain_id = genesis_hash(genesis)
        self.metrics = Metrics()
        self.ops = Operations(self.metrics)  # operator log lines (node/ops.py)
        self.live_figures = LiveFigures(cfg.data_dir, self.ops)  # scrape-time figures
        self.metrics.set_build(genesis.chain_id, self.chain_id.hex(), keys.node_id, cfg.mode)
        self.index = genesis.validator_index(keys.ed25519_public)
        if cfg.mode == "validator" and self.index is None:
            raise NodeError(ErrorCode.NODE_HOME_INVALID, "mode is validator but the key is not a genesis validator")
        if cfg.mode == "observer" and not any(
            m.ed25519_public == keys.ed25519_public for m in genesis.observers
        ):
            log.warning("observer key is not listed in genesis; it cannot forward transactions")
        self.is_validator = cfg.mode == "validator"
        ssl_server = None
        if cfg.tls_cert and cfg.tls_key:
            try:
                ssl_server = server_ssl_context(str(cfg.tls_cert), str(cfg.tls_key))
            except (OSError, ValueError) as e:
                raise NodeError(ErrorCode.CONFIG_TLS, f"cannot load TLS certificate/key: {e}") from None
        self.supervisor = Supervisor()
        self._tasks: list[asyncio.Task[None]] = []

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        log_limit.install_log_limiter()
        self.budget = fd_budget.fd_budget(cfg.limits.max_connections)
        self.store = Store(cfg.data_dir, genesis, max_open_files=self.budget.db_files)
        try:
            self.store.on_corrupt = self._on_corrupt
            self.ledger = Ledger(self.store, genesis, self.chain_id)
            found = integrity.quick_check(self.store)
            if found:
                integrity.log_problems(found, "start")
                self.supervisor.damage(f"{len(found)} damaged records found at start, first: {found[0]}")
            self.verification = Verification(cfg.limits.verify_workers, self.chain_id, self.ledger)
            lim = cfg.limits
            self.mempool = Mempool(
                self.ledger.check_tx,
                lambda h: self.ledger.store.find_tx(h) is not None,
                lim.mempool_max_txs,
                lim.client_rate_per_s,
            )
            self.network = PeerNetwork(cfg, genesis, keys, self.chain_id, self.metrics,
                                       lambda: self.ledger.height)
        except BaseException:
            self.store.close()
            raise
        # nothing below does I/O
        self.gauges = Gauges(self.metrics, self.ledger, self.mempool, self.network,
                             lambda: None if self.driver is None else self.driver.replica,
                             lambda: 0 if self.driver is None else sum(self.driver.flooding.values()))
        self.metrics.live.provider = lambda: self.live_figures.families(self.gauges.ops_sample())
        self.metrics.before_scrape = self.gauges.update
        self.tx_status = TxStatus(self.store, self.ledger, self.mempool)
        self.forwarding = Forwarding(lim, self.mempool, self.network)
        self.admission = Admission(self.store, self.ledger, self.mempool, self.metrics,
                                   self.ops, self.network, self.verification, self.supervisor,
                                   self.forwarding, self.tx_status,
                                   self._work_arrived, self._swept)
        self.driver: ConsensusDriver | None = None
        self.follower: Follower | None = None
        if self.index is not None and self.is_validator:
            producer = Producer(
                self.ledger, self.mempool, keys.ed25519_public,
                lim.max_block_txs or genesis.params.max_block_txs,
                lim.block_interval_ms or genesis.params.block_interval_ms,
                self._phase_change_due, self._drop_refused,
            )
            self.driver = ConsensusDriver(
                genesis, self.index, self.chain_id, keys, self.store, self.ledger, self.mempool,
                producer, self.network, self.verification, self.ops, self.supervisor,
                self._committed,
            )
        else:
            self.follower = Follower(self.ledger, self.network, self.verification,
                                     self.supervisor, self._committed)
        self.api = ClientApi(cfg, genesis, self.chain_id, keys, self.index, self.ledger,
                             self.admission, self.tx_status, self.driver, self.network, self.gauges,
                             self.supervisor)
        self.http = HttpService(cfg, genesis, self.chain_id, self.metrics, self.api,
                                PeerApi(self.ledger, self.admission, self.driver), self.store,
                                self.budget.connections, ssl_server)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.cfg
        self.verification.start(self.supervisor)
        await self.http.start()
        self.network.start(self.supervisor)
        self.gauges.update()
        if self.driver is not None:
            self.driver.start()
        if self.follower is not None:
            self.follower.start()
        self.ops.resume(self.ledger.state)
        self._tasks.append(self.supervisor.spawn(self.ops.run(self.gauges.ops_sample), "ops"))
        self.admission.start()
        self._tasks.append(self.supervisor.spawn(self._full_checks(), "integrity"))
        log.info(
            "node started", mode=cfg.mode, node_id=self.keys.node_id,
            listen=f"{cfg.listen_host}:{cfg.listen_port}", tls=cfg.tls,
            max_connections=self.budget.connections, nofile=self.budget.soft,
            height=self.ledger.height, chain=self.genesis.chain_id,
        )

    async def stop(self) -> None:
        """Stop every part in the reverse order of ``start``, then close the store."""
        await cancel_all(self._tasks)
        await self.admission.stop()
        if self.follower is not None:
            await self.follower.stop()
        if self.driver is not None:
            await self.driver.stop()
        await self.network.stop()
        await self.http.stop()
        await self.verification.stop()
        self.store.close()
        log.info("node stopped", height=self.ledger.height)

    async def __aenter__(self) -> Node:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # --- wiring -----------------------------------------------------------------------

    def _committed(self, block: Block) -> None:
        """A block committed (by consensus or followed): every part that cares is told."""
        self.admission.committed(block)
        self.metrics.blocks_committed.inc()
        self.metrics.txs_committed.inc(len(block.txs))
        self.ops.committed(block, len(encode(block)),
                           None if self.driver is None else self.driver.replica.view,
                           self.ledger.state)
        if self.driver is not None:
            self.driver.chain_moved()
        if block.height % 100 == 0 or block.txs:
            log.debug("committed", height=block.height, txs=len(block.txs))

    def _work_arrived(self) -> None:
        if self.driver is not None:
            self.driver.work_arrived()

    def _swept(self) -> None:
        """The pool's sweep may have dropped transactions that became invalid."""
        self.gauges.update()
        if self.driver is not None:
            self.driver.pool_shrank()

    def _drop_refused(self, dropped: list[tuple[Pending, BallotchainError]]) -> None:
        """The producer found pending transactions invalid after all (``Producer._build``)."""
        self.admission.drop_invalid(dropped)
        if self.driver is not None:
            self.driver.pool_shrank()

    def _phase_change_due(self) -> bool:
        """A block at the next block time would close an election (the auto-close rule's own
        test, so the producer proposes even with no transaction pending)."""
        state = self.ledger.state
        return bool(due_to_close(state.open_elections(), state.manifest, self.ledger.next_time_ms()))

    # --- store health -----------------------------------------------------------------

    def _on_corrupt(self, err: StoreError) -> None:
        integrity.log_problems([integrity.Problem("read", err.message)], "read")
        self.supervisor.damage(err.message)

    async def _full_checks(self) -> None:
        """Check every record in the background (a thread: LevelDB reads are thread-safe)."""
        await asyncio.sleep(FULL_CHECK_DELAY_S)
        while self.supervisor.damaged is None:
            found = await asyncio.to_thread(integrity.full_check, self.store)
            if found:
                integrity.log_problems(found, "full")
                self.supervisor.damage(f"{len(found)} damaged records found, first: {found[0]}")
            else:
                log.info("integrity check passed", height=self.ledger.height)
            await asyncio.sleep(FULL_CHECK_EVERY_S)
