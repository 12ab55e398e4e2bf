"""The node's HTTP server: one aiohttp application behind the connection guard.

``make_node_app`` assembles the client API (``node.server``), the peer routes
(``node.peer_routes``), the voting page and the backup route into one application;
``HttpService`` serves it behind the connection guard (``node.guard``): ``start``
listens, ``stop`` closes the socket and then the connections. The answers themselves
are ``node.client_api`` and ``node.peer_api``; this module only wires routes to a
socket, so it is the one place that knows the server's lifecycle.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from aiohttp import web

from genesis.document import Genesis
from node import guard
from node.backup_routes import add_backup_route
from node.config import Limits, NodeConfig
from node.metrics import Metrics
from node.peer_routes import PeerBackend, add_routes
from node.server import Backend, make_app
from node.store import Store
from node.web import add_web_routes


def make_node_app(genesis: Genesis, chain_id: bytes, limits: Limits, metrics: Metrics,
                  client: Backend, peer: PeerBackend,
                  store: Callable[[], Store | None]) -> web.Application:
    """The node's one application: client API, peer routes, voting page, backup route."""
    app = make_app(client, metrics, limits.max_request_bytes, limits.commit_wait_s,
                   limits.body_timeout_s)
    add_routes(app, peer, genesis, chain_id)  # larger, authenticated peer bodies
    add_web_routes(app, genesis)  # the voting page at /vote/ (node/web.py)
    add_backup_route(app, store, genesis)  # node/backup_routes.py, own host only
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
