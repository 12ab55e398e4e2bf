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

Bodies are bounded before they are read. The envelope's signature covers the
body, so it can only be checked after reading it; a stranger could otherwise
make a node buffer ``ENVELOPE_MAX`` bytes per connection. So a body larger than
``UNAUTH_PEER_BYTES`` must be announced by a ``X-Ballotchain-Peer`` header: the
sender's key, the time, and its signature over (topic, body length, time). The
header is checked (member lookup, freshness, replay, one signature) before the
first byte of the body is read; without it, or with a bad one, the request is
refused from its ``Content-Length`` alone (413 or 403).
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import OrderedDict, deque
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
from node.server import ApiError, read_body

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
#: Largest peer body accepted without the authenticated ``X-Ballotchain-Peer`` header.
UNAUTH_PEER_BYTES = 64 << 10
PEER_HEADER = "X-Ballotchain-Peer"
PREAMBLE_KIND = "p2p-preamble"
#: How far a preamble's time may be from ours (generous: a skewed clock must not cut a validator off).
PREAMBLE_WINDOW_MS = 600_000
PREAMBLE_SEEN_MAX = 50_000
PEER_BODY_TIMEOUT_S = 30.0


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


def _preamble_body(sender: bytes, topic: str, length: int, time_ms: int) -> bytes:
    return pack([sender, topic, length, time_ms])


def preamble(keys: KeyPair, chain_id: bytes, topic: str, length: int) -> str:
    """The ``X-Ballotchain-Peer`` header value announcing a body of ``length`` bytes."""
    t = int(time.time() * 1000)
    sig = keys.sign(PREAMBLE_KIND, chain_id, _preamble_body(keys.ed25519_public, topic, length, t))
    return f"{keys.ed25519_public.hex()}:{t}:{sig.hex()}"


class PreambleCheck:
    """Checks ``X-Ballotchain-Peer`` headers: member key, fresh, unseen, signed for this length."""

    def __init__(self, genesis: Genesis, chain_id: bytes) -> None:
        self.chain_id = chain_id
        self.validators = {v.ed25519_public for v in genesis.validators}
        self.members = self.validators | {m.ed25519_public for m in genesis.observers}
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def check(self, value: str, topic: str, length: int) -> bytes:
        """The sender's key, or ``PeerError``. Costs at most one signature check."""
        parts = value.split(":")
        try:
            if len(parts) != 3 or len(parts[1]) > 16:
                raise ValueError
            sender, t, sig = bytes.fromhex(parts[0]), int(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"malformed {PEER_HEADER} header") from None
        allowed = self.validators if topic == TOPIC_CONSENSUS else self.members
        if sender not in allowed:
            raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "the announced sender may not use this route")
        if abs(t - time.time() * 1000) > PREAMBLE_WINDOW_MS:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} header is stale")
        if sig in self._seen:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} header was replayed")
        if len(sig) != 64 or not verify(
            sender, PREAMBLE_KIND, self.chain_id, _preamble_body(sender, topic, length, t), sig
        ):
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} signature does not verify")
        self._seen[sig] = None
        while len(self._seen) > PREAMBLE_SEEN_MAX:
            self._seen.popitem(last=False)
        return sender


class PeerBackend(Protocol):
    """What the transport hands incoming traffic to (``node.api.PeerApi``)."""

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None: ...

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None: ...

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]: ...

    def tip(self) -> int: ...


def _peer_error(e: BallotchainError) -> web.Response:
    status = 403 if e.code == ErrorCode.NODE_NOT_VALIDATOR else 400
    return web.json_response({"error": str(e.code), "message": e.message}, status=status)


def add_routes(app: web.Application, backend: PeerBackend, genesis: Genesis, chain_id: bytes) -> None:
    """Mount the ``/p2p/`` routes on the node's application."""
    preambles = PreambleCheck(genesis, chain_id)

    async def post_topic(request: web.Request, topic: str) -> web.Response:
        limit = UNAUTH_PEER_BYTES
        header = request.headers.get(PEER_HEADER)
        try:
            if header is not None and request.content_length is not None:
                preambles.check(header, topic, request.content_length)
                limit = ENVELOPE_MAX
            data = await read_body(request, limit, PEER_BODY_TIMEOUT_S)
            env = open_envelope(genesis, chain_id, data, topic)
        except PeerError as e:
            log.debug("peer message refused", remote=request.remote, code=e.code)
            return _peer_error(e)
        except ApiError as e:
            log.debug("peer message refused", remote=request.remote, code=e.code)
            status = 413 if e.code == ErrorCode.API_TOO_LARGE else 408
            return web.json_response({"error": str(e.code), "message": e.message}, status=status)
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


def client_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """TLS context for dialling peers: the configured CA (or the system roots)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


#: A peer that sends nothing for this long is treated as gone for this request.
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=3)
TIP_TIMEOUT = aiohttp.ClientTimeout(total=2, sock_connect=1)


async def fetch_blocks(
    session: aiohttp.ClientSession, url: str, height: int, limit: int = MAX_FETCH_BLOCKS
) -> tuple[int, list[bytes]]:
    """Ask ``url`` for blocks from ``height``: returns (peer tip, encoded block records)."""
    async with session.get(f"{url}/p2p/blocks", params={"from": str(height), "limit": str(limit)},
                           timeout=FETCH_TIMEOUT) as r:
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
    async with session.get(f"{url}/p2p/tip", timeout=TIP_TIMEOUT) as r:
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

