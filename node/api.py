"""The node's HTTP face: what the client API and the peer routes ask of the node, and
the server that answers them.

``ClientApi`` is the backend of ``node.server`` (and of the voting page's lookups in
``node.web``); ``PeerApi`` that of the ``/p2p/`` routes of ``node.peer_routes``. ``HttpService``
assembles one aiohttp application from the client API, the peer routes, the voting
page and the backup route, and serves it behind the connection guard
(``node.guard``): ``start`` listens, ``stop`` closes the socket and then the
connections.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ballot_tx.codec import encode, pack
from ballot_tx.keys import KeyPair
from genesis.document import Genesis
from node import guard, views
from node.admission import Admission, Committed
from node.backup import add_backup_route
from node.config import Limits, NodeConfig
from node.driver import ConsensusDriver
from node.gauges import Gauges
from node.ledger import Ledger
from node.metrics import Metrics
from node.network import PeerNetwork
from node.peer_routes import PeerBackend, add_routes
from node.server import Backend, make_app
from node.store import Store
from node.supervisor import Supervisor
from node.web import add_web_routes


class ClientApi:
    """The answers of ``/v1/…`` (implements ``node.server.Backend``)."""

    def __init__(self, cfg: NodeConfig, genesis: Genesis, chain_id: bytes, keys: KeyPair,
                 index: int | None, ledger: Ledger, admission: Admission,
                 driver: ConsensusDriver | None, network: PeerNetwork, gauges: Gauges,
                 supervisor: Supervisor) -> None:
        self.cfg = cfg
        self.genesis = genesis
        self.chain_id = chain_id
        self.keys = keys
        self.index = index
        self.ledger = ledger
        self.admission = admission
        self.driver = driver
        self.network = network
        self.gauges = gauges
        self.supervisor = supervisor
        self.started = time.time()

    def status(self) -> dict[str, Any]:
        self.gauges.update()
        st = None if self.driver is None else self.driver.replica
        watcher = self.network.watcher
        peers = []
        for url, link in self.network.links.items():
            peers.append({
                "url": url, "name": link.label,
                "reachable": watcher.reachable.get(url, False),
                "height": watcher.tips.get(url),
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
            "catching_up": watcher.catching_up(),
            "peer_height": watcher.best_tip,
            "peers": peers,
            "peers_reachable": sum(watcher.reachable.values()),
            "mempool": len(self.admission.mempool),
            "store_damaged": self.supervisor.damaged,
            "uptime_s": round(time.time() - self.started, 1),
        }

    def block(self, height: int) -> dict[str, Any] | None:
        return views.block_view(self.ledger.store, height)

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None:
        return self.admission.status(tx_hash)

    async def submit_tx(self, raw: bytes, client: str) -> bytes:
        return await self.admission.submit(raw, client)

    async def wait_commit(self, tx_hash: bytes, timeout_s: float) -> Committed | None:
        return await self.admission.wait_commit(tx_hash, timeout_s)

    def election(self, election_id: bytes) -> dict[str, Any] | None:
        return views.election_view(self.ledger.state, election_id)

    def election_result(self, election_id: bytes) -> dict[str, Any] | None:
        return views.result_view(self.ledger.state, election_id)

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        r = views.receipt_view(self.ledger.store, tx_hash)
        if r is not None:
            r["cancelled"] = views.ballot_cancelled(self.ledger.state, self.ledger.store, tx_hash)
        return r

    def voter(self, election_id: bytes, key: bytes) -> dict[str, Any] | None:
        return views.voter_view(self.ledger.state, election_id, key)


class PeerApi:
    """What ``/p2p/`` hands on (implements ``node.peer_routes.PeerBackend``): consensus messages
    to the driver, forwarded transactions to admission, certified blocks from the ledger."""

    def __init__(self, ledger: Ledger, admission: Admission, driver: ConsensusDriver | None) -> None:
        self.ledger = ledger
        self.admission = admission
        self.driver = driver

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        if self.driver is not None:  # an observer runs no consensus
            self.driver.on_consensus(sender_index, payloads)

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None:
        self.admission.on_peer_txs(payloads)

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


def make_node_app(genesis: Genesis, chain_id: bytes, limits: Limits, metrics: Metrics,
                  client: Backend, peer: PeerBackend,
                  store: Callable[[], Store | None]) -> web.Application:
    """The node's one application: client API, peer routes, voting page, backup route."""
    app = make_app(client, metrics, limits.max_request_bytes, limits.commit_wait_s,
                   limits.body_timeout_s)
    add_routes(app, peer, genesis, chain_id)  # larger, authenticated peer bodies
    add_web_routes(app, genesis)  # the voting page at /vote/ (node/web.py)
    add_backup_route(app, store, genesis)  # node/backup.py, own host only
    return app


class HttpService:
    """One aiohttp application and its guarded listening socket."""

    def __init__(self, cfg: NodeConfig, genesis: Genesis, chain_id: bytes, metrics: Metrics,
                 client: Backend, peer: PeerBackend, store: Store, max_connections: int,
                 ssl_context: ssl.SSLContext | None) -> None:
        app = make_node_app(genesis, chain_id, cfg.limits, metrics, client, peer, lambda: store)
        self.conn_guard = guard.ConnectionGuard(max_connections)
        app.middlewares.insert(0, self.conn_guard.middleware)
        # keepalive_timeout also bounds how long request headers may take (node.guard)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2,
                                    keepalive_timeout=cfg.limits.idle_timeout_s, lingering_time=0)
        self.listener = guard.GuardedListener(self.runner, self.conn_guard, cfg.listen_host,
                                              cfg.listen_port, ssl_context)

    async def start(self) -> None:
        await self.runner.setup()
        await self.listener.start()

    async def stop(self) -> None:
        self.listener.stop()
        await self.runner.cleanup()
