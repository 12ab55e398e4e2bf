"""Resource guards of a node: file descriptors, connections, idle clients, repeated logs.

A node must not be taken down by clients that merely connect. Three things
make that so:

* **File budget.** At start the soft ``RLIMIT_NOFILE`` is raised to the hard
  limit, and the budget is split: ``DB_MAX_OPEN_FILES`` for LevelDB's table
  cache, ``RESERVED_FDS`` for peer connections, the log and the pid file, and
  the rest (up to ``limits.max_connections``) for incoming HTTP connections.
  The database and the peer links therefore never compete with clients.
* **Connection cap with eviction.** ``GuardedListener`` counts incoming
  connections; at the cap, a new connection evicts the connection that has been
  idle (no request in flight) the longest, or is closed at once if every
  connection is busy. An attacker holding hundreds of idle sockets thus loses
  them to newcomers one by one instead of locking everyone else out, and the
  process never reaches its file limit (where asyncio's accept loop logs an
  error per pending connection per retry).
* **Timeouts.** aiohttp closes a connection whose request headers have not
  arrived ``idle_timeout_s`` after it opened (or after its previous request),
  and ``node.server.read_body`` bounds the body's arrival time; a refused body is
  never drained (no lingering read).

``RepeatFilter`` rate-limits identical log lines (same logger, level and
event) so a fault that repeats thousands of times a second yields a few lines
and a count of the suppressed ones, not gigabytes.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from node import logs

log = logs.get("guard")

#: LevelDB's ``max_open_files`` (table cache); the database never needs more descriptors.
DB_MAX_OPEN_FILES = 100
#: Peer client pool (64), listening sockets, log, pid file, stdio, TLS files, slack.
RESERVED_FDS = 96
#: Listen backlog: asyncio accepts up to this many sockets in one burst before the
#: guard sees them, and evicted ones close a loop turn later, so twice this is reserved.
BACKLOG = 64
MIN_CONNECTIONS = 16

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class FdBudget:
    soft: int
    hard: int
    connections: int
    db_files: int


def raise_nofile() -> tuple[int, int]:
    """Raise the soft file limit to the hard one; return (soft, hard) as they now are."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def fd_budget(max_connections: int) -> FdBudget:
    """Raise the file limit and split it between the database, reserve and clients."""
    soft, hard = raise_nofile()
    room = soft - DB_MAX_OPEN_FILES - RESERVED_FDS - 2 * BACKLOG
    conns = max(MIN_CONNECTIONS, min(max_connections, room))
    if room < MIN_CONNECTIONS:
        log.warning("file limit too low for a node; raise `ulimit -n`", soft=soft, hard=hard,
                    needed=DB_MAX_OPEN_FILES + RESERVED_FDS + 2 * BACKLOG + MIN_CONNECTIONS)
    return FdBudget(soft, hard, conns, DB_MAX_OPEN_FILES)


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


class RepeatFilter(logging.Filter):
    """Lets ``burst`` identical lines through per ``window_s``, then counts the rest.

    Lines are identical when logger, level, event (the unformatted message) and
    fields all match: ``block committed height=7`` and ``height=8`` are two lines,
    the same ``peer unreachable`` or accept error a thousand times is one. The first line let through after a suppression says how many were
    dropped (``suppressed=N``), so the operator still sees the rate.
    """

    def __init__(self, window_s: float = 10.0, burst: int = 5, max_keys: int = 1000) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self.max_keys = max_keys
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        key = (record.name, record.levelno, f"{record.msg}|{fields!r}" if fields else str(record.msg))
        now = time.monotonic()
        slot = self._seen.get(key)
        if slot is None or now - slot[0] >= self.window_s:
            dropped = 0 if slot is None else int(slot[2])
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if dropped:
                _note_suppressed(record, dropped)
            return True
        slot[1] += 1
        if slot[1] <= self.burst:
            return True
        slot[2] += 1
        return False


def _note_suppressed(record: logging.LogRecord, dropped: int) -> None:
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        record.fields = {**fields, "suppressed": dropped}
    else:
        record.msg = f"{record.msg} [{dropped} similar lines suppressed]"


_FILTER = RepeatFilter()


def install_log_limiter() -> None:
    """Rate-limit repeated lines on every handler our logs and asyncio's/aiohttp's reach."""
    handlers: list[logging.Handler] = []
    for name in ("ballotchain", ""):
        handlers += logging.getLogger(name).handlers
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for h in handlers:
        if _FILTER not in h.filters:
            h.addFilter(_FILTER)
