"""The client side of the peer API: sending to one peer.

Outgoing traffic goes through one ``PeerLink`` per peer: a bounded deque
(oldest dropped first when full, counted in metrics) drained by one task that
batches what is queued into a single POST, and backs off exponentially (with
jitter, capped) while the peer is unreachable. A slow or hostile peer can thus
cost at most ``peer_queue_max`` messages of memory and one connection. Its own
module because the queueing and backoff policy is independent of the message
format (``node.peer_envelope``) and of the routes that receive it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Sequence

import aiohttp

from node import logs
from node.metrics import Metrics
from node.peer_envelope import PEER_HEADER, TOPICS, UNAUTH_PEER_BYTES

log = logs.get("peers")

MAX_BATCH_BYTES = 8 << 20
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 5.0


class PeerLink:
    """The outgoing side of one peer: a bounded queue drained by one sending task."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        sealer: Callable[[str, Sequence[bytes]], bytes],
        queue_max: int,
        metrics: Metrics,
        label: str,
        announce: Callable[[str, int], str] | None = None,
    ) -> None:
        self.url = url
        self._announce = announce
        self.label = label
        self._session = session
        self._seal = sealer
        self._queues: dict[str, deque[bytes]] = {t: deque() for t in TOPICS}
        self._queue_max = queue_max
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.failures = 0
        self.last_ok = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"peer {self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def send(self, topic: str, payload: bytes) -> None:
        q = self._queues[topic]
        if len(q) >= self._queue_max:
            q.popleft()
            self._metrics.peer_dropped.labels(peer=self.label).inc()
        q.append(payload)
        self._wake.set()

    def _take(self, topic: str) -> list[bytes]:
        q, size = self._queues[topic], 0
        batch: list[bytes] = []
        while q and size + len(q[0]) <= MAX_BATCH_BYTES or (q and not batch):
            item = q.popleft()
            batch.append(item)
            size += len(item)
        return batch

    async def _post(self, topic: str, batch: list[bytes]) -> bool:
        body = self._seal(topic, batch)
        headers = {"Content-Type": "application/msgpack"}
        if self._announce is not None and len(body) > UNAUTH_PEER_BYTES:
            # only a larger body needs announcing (section 6 of docs/spec/consensus.md): a
            # small one is read without it, so the header would cost a signature here and
            # a check at the peer for nothing
            headers[PEER_HEADER] = self._announce(topic, len(body))
        try:
            async with self._session.post(f"{self.url}/p2p/{topic}", data=body, headers=headers) as resp:
                await resp.read()
                if resp.status >= 400:
                    log.warning("peer refused message", peer=self.label, status=resp.status)
                return True  # delivered (a refusal is not fixed by resending)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            if self.connected or self.failures == 0:
                log.info("peer unreachable", peer=self.label, error=type(e).__name__)
            return False

    async def _run(self) -> None:
        delay = BACKOFF_MIN_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            for topic in TOPICS:
                while self._queues[topic]:
                    batch = self._take(topic)
                    if await self._post(topic, batch):
                        if not self.connected:
                            log.info("peer connected", peer=self.label)
                        self.connected, self.failures, self.last_ok = True, 0, time.monotonic()
                        delay = BACKOFF_MIN_S
                        continue
                    # Put the batch back (newest messages win if the queue overflowed meanwhile).
                    q = self._queues[topic]
                    for item in reversed(batch):
                        if len(q) >= self._queue_max:
                            self._metrics.peer_dropped.labels(peer=self.label).inc()
                            break
                        q.appendleft(item)
                    self.connected = False
                    self.failures += 1
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, BACKOFF_MAX_S)
            if any(self._queues.values()):
                self._wake.set()
