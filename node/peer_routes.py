"""The server side of the peer API: the ``/p2p/`` routes.

``POST /p2p/consensus`` and ``/p2p/txs`` take one sealed envelope each
(``node.peer_envelope``): a body beyond ``UNAUTH_PEER_BYTES`` is read only after its
announcing header checks out, and only an authenticated envelope reaches the
``PeerBackend``. Blocks for catch-up and observers are fetched with
``GET /p2p/blocks``: they are self-authenticating (commit certificates), so that
route needs no identity. Separate from the format and from the sending side
because it is the only part that answers requests.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

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
    TOPIC_CONSENSUS,
    TOPIC_TXS,
    UNAUTH_PEER_BYTES,
    PeerError,
    PreambleCheck,
    open_envelope,
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
