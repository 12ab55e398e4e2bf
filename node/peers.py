"""Peer transport over aiohttp: signed msgpack envelopes, bounded queues, backoff.

Every peer POST carries one ``Envelope``: the sender's Ed25519 key, a topic, a
batch of opaque payloads, and the sender's signature over all of it under the
chain id. The receiver checks, in order of cost: size, decoding, that the
sender is a genesis member (a validator, for the consensus topic), then the
signature; only then are payloads handed to the runtime. So a stranger costs
one decode and one dictionary lookup, and cannot inject consensus messages.

Outgoing traffic goes through one ``PeerLink`` per peer: a bounded deque
(oldest dropped first when full, counted in metrics) drained by one task that
batches what is queued into a single POST, and backs off exponentially (with
jitter, capped) while the peer is unreachable. A slow or hostile peer can thus
cost at most ``peer_queue_max`` messages of memory and one connection.

Blocks for catch-up and observers are fetched with ``GET /p2p/blocks``: they
are self-authenticating (commit certificates), so that route needs no identity.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import aiohttp
from aiohttp import web

from ballot_tx.codec import Bytes32, Bytes64, MaxLen, Wire, decode, encode, pack, unpack
from ballot_tx.errors import BallotchainError, CodecError, ErrorCode
from ballot_tx.keys import KeyPair, verify
from genesis.document import Genesis
from node import logs
from node.metrics import Metrics

log = logs.get("peers")

TOPIC_CONSENSUS = "consensus"
TOPIC_TXS = "txs"
TOPICS = (TOPIC_CONSENSUS, TOPIC_TXS)
ENVELOPE_MAX = 32 << 20
SIGN_KIND = "p2p-envelope"
MAX_BATCH_BYTES = 8 << 20
MAX_FETCH_BLOCKS = 64
MAX_FETCH_BYTES = 16 << 20
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 5.0


class PeerError(BallotchainError):
    """A peer message that must be refused."""


@dataclass(frozen=True)
class Envelope(Wire):
    KIND = "p2p-envelope"
    MAX_SIZE = ENVELOPE_MAX

    sender: Bytes32
    topic: Annotated[str, MaxLen(32)]
    payloads: Annotated[tuple[bytes, ...], MaxLen(100_000)]
    signature: Bytes64


def _signed_body(sender: bytes, topic: str, payloads: Sequence[bytes]) -> bytes:
    return pack([sender, topic, list(payloads)])


def seal(keys: KeyPair, chain_id: bytes, topic: str, payloads: Sequence[bytes]) -> bytes:
    """Encode and sign one envelope from this node."""
    sig = keys.sign(SIGN_KIND, chain_id, _signed_body(keys.ed25519_public, topic, payloads))
    return encode(Envelope(keys.ed25519_public, topic, tuple(payloads), sig))


def open_envelope(genesis: Genesis, chain_id: bytes, data: bytes, topic: str) -> Envelope:
    """Decode and authenticate an envelope for ``topic``; raise ``PeerError`` otherwise."""
    try:
        env = decode(Envelope, data)
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad envelope: {e.message}") from None
    if env.topic != topic:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"topic {env.topic!r} on the {topic} route")
    if topic == TOPIC_CONSENSUS:
        if genesis.validator_index(env.sender) is None:
            raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "sender is not a genesis validator")
    elif not any(m.ed25519_public == env.sender for m in genesis.validators + genesis.observers):
        raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "sender is not a genesis member")
    body = _signed_body(env.sender, env.topic, env.payloads)
    if not verify(env.sender, SIGN_KIND, chain_id, body, env.signature):
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "envelope signature does not verify")
    return env


class PeerBackend(Protocol):
    """What the transport hands incoming traffic to (``node.runtime.Node``)."""

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None: ...

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None: ...

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]: ...

    def tip(self) -> int: ...


def _peer_error(e: BallotchainError) -> web.Response:
    status = 403 if e.code == ErrorCode.NODE_NOT_VALIDATOR else 400
    return web.json_response({"error": str(e.code), "message": e.message}, status=status)


def add_routes(app: web.Application, backend: PeerBackend, genesis: Genesis, chain_id: bytes) -> None:
    """Mount the ``/p2p/`` routes on the node's application."""

    async def post_topic(request: web.Request, topic: str) -> web.Response:
        data = await request.read()
        try:
            env = open_envelope(genesis, chain_id, data, topic)
        except PeerError as e:
            log.debug("peer message refused", remote=request.remote, code=e.code)
            return _peer_error(e)
        if topic == TOPIC_CONSENSUS:
            idx = genesis.validator_index(env.sender)
            assert idx is not None
            backend.on_consensus(idx, env.payloads)
        else:
            backend.on_peer_txs(env.sender, env.payloads)
        return web.Response(status=204)

    async def post_consensus(request: web.Request) -> web.Response:
        return await post_topic(request, TOPIC_CONSENSUS)

    async def post_txs(request: web.Request) -> web.Response:
        return await post_topic(request, TOPIC_TXS)

    async def get_blocks(request: web.Request) -> web.Response:
        q = request.query
        frm, lim = q.get("from", ""), q.get("limit", str(MAX_FETCH_BLOCKS))
        if not frm.isdigit() or not lim.isdigit() or len(frm) > 19 or len(lim) > 6:
            return web.json_response(
                {"error": "API_BAD_REQUEST", "message": "from and limit must be integers"},
                status=400,
            )
        limit = max(1, min(int(lim), MAX_FETCH_BLOCKS))
        blocks = backend.blocks_from(int(frm), limit, MAX_FETCH_BYTES)
        return web.Response(body=pack([backend.tip(), blocks]), content_type="application/msgpack")

    async def get_tip(request: web.Request) -> web.Response:
        return web.Response(body=pack([backend.tip()]), content_type="application/msgpack")

    app.router.add_post("/p2p/consensus", post_consensus)
    app.router.add_post("/p2p/txs", post_txs)
    app.router.add_get("/p2p/blocks", get_blocks)
    app.router.add_get("/p2p/tip", get_tip)


# --- outgoing ---------------------------------------------------------------------


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
    ) -> None:
        self.url = url
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
        try:
            async with self._session.post(
                f"{self.url}/p2p/{topic}",
                data=body,
                headers={"Content-Type": "application/msgpack"},
            ) as resp:
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


def client_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """TLS context for dialling peers: the configured CA (or the system roots)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


async def fetch_blocks(
    session: aiohttp.ClientSession, url: str, height: int, limit: int = MAX_FETCH_BLOCKS
) -> tuple[int, list[bytes]]:
    """Ask ``url`` for blocks from ``height``: returns (peer tip, encoded block records)."""
    async with session.get(f"{url}/p2p/blocks", params={"from": str(height), "limit": str(limit)}) as r:
        if r.status != 200:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"peer answered {r.status}")
        data = await r.read()
    try:
        plain: Any = unpack(data, MAX_FETCH_BYTES + (1 << 20))
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad blocks answer: {e.message}") from None
    if (
        type(plain) is not list
        or len(plain) != 2
        or type(plain[0]) is not int
        or type(plain[1]) is not list
        or not all(type(b) is bytes for b in plain[1])
    ):
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "blocks answer has the wrong shape")
    return plain[0], plain[1]


async def fetch_tip(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/p2p/tip") as r:
        if r.status != 200:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"peer answered {r.status}")
        data = await r.read()
    try:
        plain: Any = unpack(data, 1024)
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad tip answer: {e.message}") from None
    if type(plain) is not list or len(plain) != 1 or type(plain[0]) is not int or plain[0] < 0:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "tip answer has the wrong shape")
    return int(plain[0])

