"""The connection guard: clients that merely connect must not take a node down.

* **Connection cap with eviction.** ``GuardedListener`` counts incoming
  connections; at the cap (``node.fd_budget`` sizes it), a new connection evicts the
  connection that has been idle (no request in flight) the longest, or is closed at once
  if every connection is busy. An attacker holding hundreds of idle sockets thus loses
  them to newcomers one by one instead of locking everyone else out, and the
  process never reaches its file limit (where asyncio's accept loop logs an
  error per pending connection per retry).
* **Timeouts.** aiohttp closes a connection whose request headers have not
  arrived ``idle_timeout_s`` after it opened (or after its previous request),
  and ``node.http_errors.read_body`` bounds the body's arrival time; a refused body is
  never drained (no lingering read).

Repeated log lines are limited by ``node.log_limit``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

#: Listen backlog: asyncio accepts up to this many sockets in one burst before the
#: guard sees them, and evicted ones close a loop turn later, so twice this is reserved.
BACKLOG = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refuse(asyncio.Protocol):
    """Closes a connection the moment it is made (every slot is busy)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Counted(asyncio.Protocol):
    """Forwards to aiohttp's protocol and tells the guard when the connection is gone.

    Counting at the factory (not in aiohttp's ``connection_made``) matters: asyncio
    accepts up to ``backlog`` sockets in one burst before any of them is made.
    """

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        r: bool | None = self.inner.eof_received()
        return r

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.gone(self.inner)
        self.inner.connection_lost(exc)


class ConnectionGuard:
    """Caps concurrent connections; at the cap, evicts the longest-idle one."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.evicted = 0
        self.refused = 0
        self._busy: dict[Any, int] = {}
        self._open: dict[Any, float] = {}  # aiohttp protocol -> last activity

    def __len__(self) -> int:
        return len(self._open)

    def factory(self, server: web.Server) -> Callable[[], asyncio.BaseProtocol]:
        def make() -> asyncio.BaseProtocol:
            if len(self._open) >= self.cap and not self._evict():
                self.refused += 1
                return _Refuse()
            proto = server()
            self._open[proto] = time.monotonic()
            return _Counted(proto, self)

        return make

    def gone(self, proto: Any) -> None:
        self._open.pop(proto, None)
        self._busy.pop(proto, None)

    def _evict(self) -> bool:
        idle = [(t, id(c), c) for c, t in self._open.items()
                if not self._busy.get(c) and c.transport is not None]
        if not idle:
            return False
        _, _, victim = min(idle)
        victim.force_close()  # its connection_lost (next loop turn) calls gone()
        self._open.pop(victim, None)
        self.evicted += 1
        return True

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        proto = request.protocol
        self._busy[proto] = self._busy.get(proto, 0) + 1
        try:
            return await handler(request)
        finally:
            n = self._busy.get(proto, 1) - 1
            if n > 0:
                self._busy[proto] = n
            else:
                self._busy.pop(proto, None)
            if proto in self._open:
                self._open[proto] = time.monotonic()


class GuardedListener:
    """The listening socket of the node's HTTP server, its connections passed through a
    ``ConnectionGuard``.

    Built on aiohttp's public low-level API (``AppRunner.server`` is the protocol
    factory aiohttp's own sites listen with) rather than a ``TCPSite`` subclass, whose
    listening server is private. ``stop`` closes the socket; ``AppRunner.cleanup`` then
    shuts the open connections down.
    """

    def __init__(self, runner: web.AppRunner, guard: ConnectionGuard, host: str, port: int,
                 ssl_context: ssl.SSLContext | None) -> None:
        self.runner = runner
        self.guard = guard
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (after ``runner.setup()``)."""
        handler = self.runner.server
        assert handler is not None, "runner.setup() first"
        self.server = await asyncio.get_running_loop().create_server(
            self.guard.factory(handler), self.host, self.port, ssl=self.ssl_context,
            backlog=BACKLOG, reuse_address=True,
        )

    def stop(self) -> None:
        """Stop accepting connections (open ones are the runner's to shut down)."""
        if self.server is not None:
            self.server.close()
