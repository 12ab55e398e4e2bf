"""The node's background tasks, and the two ways a node stops doing its job.

Every long-running task of the runtime is spawned here, so a task that fails is
never lost silently: a damaged store (``STORE_CORRUPT``, not fixed by a restart)
makes the node stop voting and following but stay up to answer clients; any other
``BallotchainError`` or an unexpected exception halts the node, and
``node.process.run_node`` raises it after a clean stop, so the process exits
non-zero with its code and a supervisor (systemd) restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from typing import Any

from ballot_tx.errors import BallotchainError, ErrorCode
from node import logs
from node.errors import NodeError

log = logs.get("node")


class Supervisor:
    """Spawns guarded tasks; records why the node stopped voting or stopped."""

    def __init__(self) -> None:
        self.fatal: BallotchainError | None = None  # why the node stopped itself
        self.damaged: str | None = None  # why this node stopped voting (its store is damaged)
        self.halted = asyncio.Event()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as task ``name``; its failure damages or halts the node."""
        return asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)

    async def _guard(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
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

    def damage(self, reason: str) -> None:
        """The store is damaged: stop voting (and following) until ``node resync``."""
        if self.damaged is None:
            self.damaged = reason
            log.error("store damaged; this node stops voting until it is resynced "
                      "(ballotchain node resync --home HOME)", code=str(ErrorCode.NODE_STORE_DAMAGED),
                      reason=reason)

    def halt(self, err: BallotchainError) -> None:
        """Stop the node because of ``err`` (the first reason wins)."""
        if self.fatal is None:
            self.fatal = err
        self.halted.set()


async def cancel_all(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel ``tasks`` and wait until each has ended (whatever it raised)."""
    live = [t for t in tasks if t is not None]
    for t in live:
        t.cancel()
    for t in live:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
