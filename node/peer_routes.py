"""The server side of the peer API: the ``/p2p/`` routes.

``GET /p2p/stream`` is a WebSocket on which a member, once its ``X-Ballotchain-Peer``
header checked out, sends sealed envelopes of either topic as binary frames; it is how
nodes talk (a POST costs ~150-240 us of CPU between the two ends here, a frame ~8 us;
docs/measurements.md, section 2g). ``POST /p2p/consensus`` and ``/p2p/txs`` take one
sealed envelope each (``node.peer_envelope``), for a peer that has no stream: a body
beyond ``UNAUTH_PEER_BYTES`` is read only after its announcing header checks out, and
only an authenticated envelope reaches the ``PeerBackend``. Blocks for catch-up and
observers are fetched with ``GET /p2p/blocks``: they are self-authenticating (commit
certificates), so that route needs no identity. Separate from the format and from the
sending side because it is the only part that answers requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from ballot_tx.codec import pack
from ballot_tx.errors import BallotchainError, ErrorCode
from genesis.document import Genesis
from node import logs
from node.http_errors import ApiError, read_body
from node.peer_envelope import (
    ENVELOPE_MAX,
    MAX_FETCH_BLOCKS,
    MAX_FETCH_BYTES,
    PEER_HEADER,
    STREAM_ACK_S,
    STREAM_HEARTBEAT_S,
    TOPIC_CONSENSUS,
    TOPIC_STREAM,
    TOPIC_TXS,
    UNAUTH_PEER_BYTES,
    Envelope,
    PeerError,
    PreambleCheck,
    open_envelope,
    open_stream_frame,
    stream_ack,
)

log = logs.get("peers")

PEER_BODY_TIMEOUT_S = 30.0


class PeerBackend(Protocol):
    """What the transport hands incoming traffic to (``node.peer_api.PeerApi``)."""

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
        deliver(env)
        return web.Response(status=204)

    def deliver(env: Envelope) -> None:
        if env.topic == TOPIC_CONSENSUS:
            idx = genesis.validator_index(env.sender)
            assert idx is not None
            backend.on_consensus(idx, env.payloads)
        else:
            backend.on_peer_txs(env.sender, env.payloads)

    #: the open incoming stream of each sender: one each, the newest (a reconnect after a
    #: network break supersedes the half-dead connection it left behind)
    streams: dict[bytes, web.WebSocketResponse] = {}

    async def get_stream(request: web.Request) -> web.StreamResponse:
        """A member's stream: authenticated by its header before the upgrade (nobody
        else gets a WebSocket), then each frame opened as that member's envelope. A bad
        frame is dropped (logged with its code) and the stream goes on, as a refused
        POST would; a text frame or one over ``ENVELOPE_MAX`` closes it. Frames handled
        are acknowledged (``stream_ack``) within ``STREAM_ACK_S``: the sender keeps what
        it wrote until then, and writes it again on its next stream if this one breaks."""
        header = request.headers.get(PEER_HEADER)
        if header is None:
            return _peer_error(PeerError(ErrorCode.NODE_NOT_VALIDATOR,
                                         f"a stream needs the {PEER_HEADER} header"))
        try:
            sender = preambles.check(header, TOPIC_STREAM, 0)
        except PeerError as e:
            log.debug("peer stream refused", remote=request.remote, code=e.code)
            return _peer_error(e)
        ws = web.WebSocketResponse(max_msg_size=ENVELOPE_MAX, heartbeat=STREAM_HEARTBEAT_S)
        await ws.prepare(request)
        old = streams.get(sender)
        streams[sender] = ws
        if old is not None:
            await old.close(code=WSCloseCode.POLICY_VIOLATION, message=b"superseded by a newer stream")
        handled = 0  # frames handled (delivered or refused): what the acknowledgements count
        acking: asyncio.TimerHandle | None = None
        tasks: set[asyncio.Task[None]] = set()

        async def send_ack() -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):  # (closing meanwhile)
                await ws.send_bytes(stream_ack(handled))

        def ack() -> None:
            nonlocal acking
            acking = None
            task = asyncio.get_running_loop().create_task(send_ack())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"binary frames only")
                    break
                handled += 1
                if acking is None:
                    acking = asyncio.get_running_loop().call_later(STREAM_ACK_S, ack)
                try:
                    env = open_stream_frame(genesis, chain_id, msg.data, sender)
                except PeerError as e:
                    log.debug("peer message refused", remote=request.remote, code=e.code)
                    continue
                deliver(env)
        finally:
            if acking is not None:
                acking.cancel()
            if streams.get(sender) is ws:
                del streams[sender]
        return ws

    async def close_streams(app: web.Application) -> None:
        # (a stream is a request that never ends by itself: without this, stopping the
        # node would wait out the runner's shutdown timeout)
        with contextlib.suppress(Exception):
            await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"node stopping")
                                   for ws in list(streams.values())))

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

    app.on_shutdown.append(close_streams)
    app.router.add_get("/p2p/stream", get_stream)
    app.router.add_post("/p2p/consensus", post_consensus)
    app.router.add_post("/p2p/txs", post_txs)
    app.router.add_get("/p2p/blocks", get_blocks)
    app.router.add_get("/p2p/tip", get_tip)
