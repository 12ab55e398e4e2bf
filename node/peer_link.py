"""The client side of the peer API: sending to one peer.

Outgoing traffic goes through one ``PeerLink`` per peer: a bounded deque
(oldest dropped first when full, counted in metrics) drained by one task that
batches what is queued into one sealed envelope, and backs off exponentially (with
jitter, capped) while the peer is unreachable. A slow or hostile peer can thus
cost at most ``peer_queue_max`` messages of memory and one connection. Its own
module because the queueing and backoff policy is independent of the message
format (``node.peer_envelope``) and of the routes that receive it.

Envelopes go as frames of one WebSocket (``GET /p2p/stream``), opened with a
``X-Ballotchain-Peer`` header and kept open: a POST and its answer cost 150-237 us of
CPU between the two ends here, a frame 7-8 us, and a validator's event loop spent
0.49-0.50 ms per ballot instead of 0.53-0.56 under ``bench_network --simple``
(docs/measurements.md, section 2g). A peer that refuses the upgrade (an older release
without the route, a proxy that does not pass upgrades on) gets POSTs, and is offered
a stream again after ``STREAM_RETRY_S``.

A frame written is not a frame received (a peer killed or paused, a network break):
the link keeps each frame until the peer acknowledges it (``node.peer_routes``: within
50 ms of handling it) and writes the unacknowledged ones again, first, on its next
stream, as a POST that got no answer is sent again. A frame the peer handled but had
not yet acknowledged thus arrives twice; both topics are idempotent at the receiver (a
replica ignores a message it holds, the pool a transaction it has).
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
from node.peer_envelope import (
    ENVELOPE_MAX,
    PEER_HEADER,
    STREAM_HEARTBEAT_S,
    TOPIC_STREAM,
    TOPICS,
    UNAUTH_PEER_BYTES,
    read_stream_ack,
)

log = logs.get("peers")

MAX_BATCH_BYTES = 8 << 20
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 5.0
#: After a peer refused the stream's upgrade, POSTs for this long.
STREAM_RETRY_S = 60.0


async def _close(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Close a stream; one that is already broken may fail to say goodbye."""
    if not ws.closed:
        try:
            await ws.close()
        except (ConnectionError, aiohttp.ClientError, OSError, TimeoutError):
            pass


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
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ws_reader: asyncio.Task[None] | None = None
        self._post_until = 0.0  # (monotonic) no stream before then: the peer refused it
        #: frames written to the peer's stream (topic, batch, sealed body), oldest first,
        #: not yet acknowledged: written again on the next stream if this one breaks
        self._unacked: deque[tuple[str, list[bytes], bytes]] = deque()
        self._unacked_msgs = 0
        #: frames of the current stream acknowledged (or dropped unacknowledged) so far
        self._frames_acked_base = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"peer {self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._drop_stream()

    @property
    def streaming(self) -> bool:
        """True while envelopes go over an open stream (not POSTs)."""
        return self._ws is not None and not self._ws.closed

    def queued(self) -> int:
        """Messages not yet sent, or sent on a stream and not yet acknowledged."""
        return sum(len(q) for q in self._queues.values()) + self._unacked_msgs

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

    async def _deliver(self, topic: str, batch: list[bytes]) -> bool:
        """Send one envelope: over the stream (opened if need be) unless the peer has
        none, then as a POST. True if it went out (on a stream: written, and kept until
        acknowledged)."""
        body = self._seal(topic, batch)
        if self._announce is None:
            return await self._post(topic, body)
        ws = await self._stream() if time.monotonic() >= self._post_until else None
        if ws is None:
            # no stream: the peer refused it (POSTs, the frames written to it first) or is
            # unreachable (the batch goes back to its queue)
            return time.monotonic() < self._post_until and await self._post_unacked() \
                and await self._post(topic, body)
        frame = (topic, batch, body)
        self._keep_unacked(frame)
        try:
            await ws.send_bytes(body)
        except (ConnectionError, aiohttp.ClientError, OSError) as e:
            log.info("peer stream broke", peer=self.label, error=type(e).__name__)
            await self._drop_stream()
            if self._unacked and self._unacked[-1] is frame:
                self._unacked.pop()  # (back to its queue, behind the frames written before it)
                self._unacked_msgs -= len(batch)
                return False
            return True  # acknowledged while the write waited: the peer has it
        return True

    def _keep_unacked(self, frame: tuple[str, list[bytes], bytes]) -> None:
        """Keep a frame until the peer acknowledges it; at most ``queue_max`` messages
        (the oldest dropped and counted, as from a full queue)."""
        self._unacked.append(frame)
        self._unacked_msgs += len(frame[1])
        while self._unacked_msgs > self._queue_max and len(self._unacked) > 1:
            _, old, _ = self._unacked.popleft()
            self._unacked_msgs -= len(old)
            self._frames_acked_base += 1  # (its acknowledgement, if one comes, is for nothing now)
            self._metrics.peer_dropped.labels(peer=self.label).inc(len(old))

    async def _resend(self) -> bool:
        """After a broken stream: the unacknowledged frames again, on a new stream (or as
        POSTs if the peer now refuses the stream). True once they went out."""
        if time.monotonic() >= self._post_until and await self._stream() is not None:
            return True
        return time.monotonic() < self._post_until and await self._post_unacked()

    async def _post_unacked(self) -> bool:
        while self._unacked:
            topic, batch, body = self._unacked[0]
            if not await self._post(topic, body):
                return False
            self._unacked.popleft()
            self._unacked_msgs -= len(batch)
        return True

    async def _stream(self) -> aiohttp.ClientWebSocketResponse | None:
        """The open stream, or a new one with the unacknowledged frames written again
        first; None if it cannot be opened now (and ``_post_until`` set if the peer
        refused it)."""
        if self._ws is not None and not self._ws.closed:
            return self._ws
        await self._drop_stream()
        assert self._announce is not None
        try:
            ws = await self._session.ws_connect(
                f"{self.url}/p2p/stream", headers={PEER_HEADER: self._announce(TOPIC_STREAM, 0)},
                heartbeat=STREAM_HEARTBEAT_S, max_msg_size=ENVELOPE_MAX)
        except aiohttp.WSServerHandshakeError as e:
            # 404/405: an older release; 400 from a proxy that does not pass upgrades on;
            # 403/400 from the peer's own check (a clock skewed by more than the header's
            # window). POSTs reach the peer in all of these cases (small ones need no header).
            log.warning("peer refused the stream; sending POSTs", peer=self.label, status=e.status)
            self._post_until = time.monotonic() + STREAM_RETRY_S
            return None
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            if self.connected or self.failures == 0:
                log.info("peer unreachable", peer=self.label, error=type(e).__name__)
            return None
        # a new stream counts its frames from zero: those still unacknowledged come first
        self._frames_acked_base = 0
        try:
            for _, _, body in list(self._unacked):
                await ws.send_bytes(body)
        except (ConnectionError, aiohttp.ClientError, OSError):
            await _close(ws)
            return None
        self._ws = ws
        self._ws_reader = asyncio.get_running_loop().create_task(self._read(ws), name=f"stream {self.label}")
        return ws

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read the stream until it closes: the peer's acknowledgements, its pings (a ping
        is only answered, and a dead peer only noticed, while someone reads) and its close.
        When it closes with frames unacknowledged, the sending task is woken to resend."""
        async for msg in ws:
            frames = read_stream_ack(msg.data) if msg.type == aiohttp.WSMsgType.BINARY else None
            if frames is not None and ws is self._ws:
                self._acknowledged(frames)
        if self._unacked:
            self._wake.set()

    def _acknowledged(self, frames: int) -> None:
        """The peer handled ``frames`` frames of this stream: forget them."""
        done = min(frames - self._frames_acked_base, len(self._unacked))  # (a peer may not ack more than sent)
        for _ in range(max(0, done)):
            _, batch, _ = self._unacked.popleft()
            self._unacked_msgs -= len(batch)
        self._frames_acked_base += max(0, done)

    async def _drop_stream(self) -> None:
        ws, reader, self._ws, self._ws_reader = self._ws, self._ws_reader, None, None
        if reader is not None:
            reader.cancel()
        if ws is not None:
            await _close(ws)

    async def _post(self, topic: str, body: bytes) -> bool:
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
            if self._unacked and not self.streaming and not await self._resend():
                self.connected = False
                self.failures += 1
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, BACKOFF_MAX_S)
                self._wake.set()
                continue
            for topic in TOPICS:
                while self._queues[topic]:
                    batch = self._take(topic)
                    if await self._deliver(topic, batch):
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
