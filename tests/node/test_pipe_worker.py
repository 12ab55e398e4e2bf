"""One verification worker over a socket pair: answers, a call that raises there, a
worker that dies mid-call, calls from successive event loops, and a hung worker at close."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from node.pipe_worker import PipeWorker, WorkerGone


def _echo(x: bytes) -> bytes:
    return x[::-1]


def _boom() -> None:
    raise ValueError("no")


def _pid() -> int:
    return os.getpid()


def _sleep(s: float) -> None:
    time.sleep(s)


def test_answers_and_names_a_remote_exception_from_any_loop() -> None:
    w = PipeWorker()
    try:
        big = os.urandom(3 << 20)  # larger than the socket buffers: written as it is read
        assert asyncio.run(w.call(_echo, big)) == big[::-1]
        assert asyncio.run(w.call(_pid)) == w.pid != os.getpid()  # a second loop, same socket
        with pytest.raises(RuntimeError, match="ValueError in a verification worker"):
            asyncio.run(w.call(_boom))
        assert asyncio.run(w.call(_echo, b"ab")) == b"ba"  # still serving after a refusal
    finally:
        w.close()


def test_a_worker_killed_mid_call_is_reported_gone() -> None:
    w = PipeWorker()
    try:
        async def run() -> None:
            await w.call(_pid)
            call = asyncio.ensure_future(w.call(_sleep, 30.0))
            await asyncio.sleep(0.2)
            os.kill(w.pid, signal.SIGKILL)
            with pytest.raises(WorkerGone):
                await asyncio.wait_for(call, 10)

        asyncio.run(run())
    finally:
        w.close()


def test_close_stops_an_idle_worker_and_kills_a_busy_one() -> None:
    idle, busy = PipeWorker(), PipeWorker()

    async def run() -> None:
        await idle.call(_pid)
        await busy.call(_pid)
        asyncio.ensure_future(busy.call(_sleep, 60.0))
        await asyncio.sleep(0.2)

    asyncio.run(run())
    t0 = time.monotonic()
    idle.close()
    busy.close()
    assert time.monotonic() - t0 < 8
    for w in (idle, busy):
        with pytest.raises(ProcessLookupError):
            os.kill(w.pid, 0)


def test_a_call_cancelled_half_way_closes_the_worker_rather_than_answer_the_next_call() -> None:
    """Its answer would otherwise be read by the next call (the answer to another
    request). The worker is closed; the next call is told it is gone."""
    w = PipeWorker()
    try:
        async def run() -> None:
            assert await w.call(_echo, b"ab") == b"ba"
            slow = asyncio.ensure_future(w.call(_sleep, 0.5))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            with pytest.raises(WorkerGone):
                await w.call(_echo, b"cd")

        asyncio.run(run())
        assert w.broken
    finally:
        w.close()
