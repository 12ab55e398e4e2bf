"""Synced LevelDB writes off the event loop, in the order they are asked for.

A synced write mostly waits on the disk (``scripts/bench_disk``: 0.12-0.16 ms of wall
clock and 0.05-0.06 ms of CPU here when the machine was quiet; 5.9 ms once while other
work loaded the disk), and plyvel releases the GIL while LevelDB writes. Run on the
event loop, each one froze the node for that long (admissions, peer messages, HTTP
answers all waited), longest exactly when the disk is busiest. On one
worker thread the loop goes on serving while the disk syncs, and the writes still reach
the disk one at a time in the order they were asked for. The caller awaits each write
before acting on it: nothing is acknowledged, sent or signed on the strength of a write
that is not on disk yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class DiskThread:
    """One thread that carries out synced writes, one at a time, in order."""

    def __init__(self, name: str = "disk") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def write(self, write: Callable[[], None]) -> None:
        """Run ``write`` on the disk thread; return once it has returned (or raise what it
        raised). If the caller is cancelled meanwhile, the write still completes."""
        await asyncio.get_running_loop().run_in_executor(self._pool, write)

    def close(self) -> None:
        """Wait for a write already started (the store may close after this)."""
        self._pool.shutdown(wait=True)
