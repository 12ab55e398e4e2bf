"""One verification worker process, called over a socket pair from the event loop.

``concurrent.futures.ProcessPoolExecutor`` hands every call through two threads of
the node's process (a queue feeder and a result manager) and wakes them through a
pipe, and those threads take the GIL from the loop. Measured here with 2,000 calls
carrying seven 900-byte transactions (docs/measurements.md, section 2f): ~150 us of
the calling process's CPU per call with the executor, ~55 us with this class.
A ``PipeWorker`` is one spawned process and one socket: the loop writes a request
and reads the answer with its own socket calls (never blocking, whatever the worker
does), and a worker that dies is seen as the end of its stream.

Framing is that of ``multiprocessing.connection``: a 4-byte big-endian signed
length, then a pickle. Only the node's own processes are at either end (the
socket pair is created here and inherited by the spawned child), so unpickling
their messages trusts nobody it does not already run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from node import heap

_HEADER = struct.Struct("!i")
#: The largest message either end sends (a block's worth of transactions is ~16 MiB).
MAX_MESSAGE = (1 << 31) - 1


class WorkerGone(Exception):
    """The worker process ended (killed, crashed) or broke the framing."""


def _watch_parent(parent: int) -> None:
    # A node killed with SIGKILL cannot stop its workers, and a worker blocked reading
    # its socket would not notice: leave as soon as the node is gone.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _serve(sock: socket.socket, parent: int) -> None:
    """The worker's main loop: a request is (function, args); the answer is
    (True, result) or (False, the exception's type name)."""
    # The node handles SIGINT/SIGTERM and stops its workers; a Ctrl-C sent to the
    # process group must not print a traceback from every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    conn = Connection(sock.detach())
    frozen = False
    while True:
        try:
            fn, args = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as e:  # noqa: BLE001 - reported to the caller, which falls back inline
            answer = (False, type(e).__name__)
        try:
            conn.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return
        if not frozen:  # what the first call imported lives as long as the worker
            heap.freeze_long_lived()
            frozen = True


class PipeWorker:
    """A spawned worker process (``spawn``: the node's loop, sockets and LevelDB handle
    are not inherited) running one call at a time."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = socket.socketpair()
        self._proc = ctx.Process(target=_serve, args=(theirs, os.getpid()), daemon=True,
                                 name="ballotchain-verify")
        self._proc.start()
        theirs.close()
        ours.setblocking(False)  # read and written with the running loop's sock_* calls
        self._sock = ours
        self.broken = False  # closed: a call was cancelled half way, or the worker failed
        self.pid: int = self._proc.pid or 0

    async def _read(self, n: int) -> bytes:
        loop = asyncio.get_running_loop()
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = await loop.sock_recv_into(self._sock, view[got:])
            if k == 0:
                raise WorkerGone("end of stream")
            got += k
        return bytes(buf)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the worker. Raises ``WorkerGone`` if the worker ended, and
        ``RuntimeError`` naming the exception if the call raised one there.

        Any running loop may call (not only the one that started the worker): the socket
        is not tied to a loop, each call waits on it with the loop it runs in.

        A call cancelled half way (its request sent, its answer unread) would leave that
        answer to the next call: the worker is closed instead, and every later call
        raises ``WorkerGone`` (the pool replaces it)."""
        if self.broken:
            raise WorkerGone("closed after a cancelled call")
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"a {len(data)}-byte request is too large for a worker")
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self._sock, _HEADER.pack(len(data)) + data)
            (n,) = _HEADER.unpack(await self._read(_HEADER.size))
            if n < 0:
                raise WorkerGone("answer over 2 GiB")
            ok, value = pickle.loads(await self._read(n))
        except asyncio.CancelledError:
            self.close(wait=False)
            raise
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            self.close(wait=False)
            raise WorkerGone(type(e).__name__) from None
        if not ok:
            raise RuntimeError(f"{value} in a verification worker")
        return value

    def close(self, wait: bool = True) -> None:
        """Stop the worker (closing its socket ends its loop; a hung one is killed)."""
        self.broken = True
        self._sock.close()
        if wait:
            self._proc.join(2.0)
        if self._proc.is_alive():
            self._proc.kill()
            if wait:
                self._proc.join(2.0)
