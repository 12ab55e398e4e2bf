"""The client HTTP API (JSON) of every node.

Routes (DESIGN.md): ``GET /v1/status``, ``/v1/blocks/{height}``, ``/v1/txs/{hash}``,
``POST /v1/txs`` (``?wait=commit`` waits for the commit), ``/v1/elections/{id}``,
``/v1/elections/{id}/result``, ``/v1/receipts/{hash}``, ``/metrics``. Peer routes
(msgpack) are added by ``node.peer_routes`` under ``/p2p/``. Failures follow the one error
discipline of ``node.http_errors``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from ballot_tx.errors import ErrorCode
from node.http_errors import (
    METRICS_KEY,
    ApiError,
    bad_request,
    error_middleware,
    not_found,
    read_body,
)
from node.metrics import Metrics

COMMIT_WAIT_KEY = web.AppKey("commit_wait_s", float)
MAX_BODY_KEY = web.AppKey("max_request_bytes", int)
BODY_TIMEOUT_KEY = web.AppKey("body_timeout_s", float)


class Backend(Protocol):
    """What the API needs from the node (``node.client_api.ClientApi`` implements it)."""

    def status(self) -> dict[str, Any]: ...

    def block(self, height: int) -> dict[str, Any] | None: ...

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None: ...

    async def submit_tx(self, raw: bytes, client: str) -> bytes: ...

    async def wait_commit(self, tx_hash: bytes, timeout_s: float) -> dict[str, Any] | None: ...

    def election(self, election_id: bytes) -> dict[str, Any] | None: ...

    def election_result(self, election_id: bytes) -> dict[str, Any] | None: ...

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None: ...


BACKEND_KEY = web.AppKey("backend", Backend)


# --- JSON views -------------------------------------------------------------------


def parse_hex32(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise bad_request(f"{what} must be 64 hex characters")
    return raw


def parse_height(value: str) -> int:
    if not value.isdigit() or len(value) > 19:
        raise bad_request("height must be a non-negative integer")
    return int(value)


def client_of(request: web.Request) -> str:
    return request.remote or "unknown"


# --- handlers ---------------------------------------------------------------------


def _backend(request: web.Request) -> Backend:
    return request.app[BACKEND_KEY]


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(_backend(request).status())


async def get_block(request: web.Request) -> web.Response:
    height = parse_height(request.match_info["height"])
    block = _backend(request).block(height)
    if block is None:
        raise not_found(f"no block at height {height}")
    return web.json_response(block)


async def get_tx(request: web.Request) -> web.Response:
    h = parse_hex32(request.match_info["hash"], "transaction hash")
    tx = _backend(request).tx(h)
    if tx is None:
        raise not_found(f"no transaction {h.hex()}")
    return web.json_response(tx)


async def _read_tx_body(request: web.Request) -> bytes:
    ctype = request.content_type
    if ctype not in ("application/json", "application/msgpack", "application/octet-stream"):
        raise ApiError(
            ErrorCode.API_UNSUPPORTED_MEDIA,
            "send application/json {\"tx\": hex} or application/msgpack canonical bytes",
        )
    body = await read_body(request, request.app[MAX_BODY_KEY], request.app[BODY_TIMEOUT_KEY])
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except ValueError:
            raise bad_request("body is not valid JSON") from None
        if not isinstance(doc, dict) or set(doc) != {"tx"} or not isinstance(doc["tx"], str):
            raise bad_request('JSON body must be {"tx": "<hex of the canonical transaction>"}')
        try:
            return bytes.fromhex(doc["tx"])
        except ValueError:
            raise bad_request("tx is not hex") from None
    return body


async def post_tx(request: web.Request) -> web.Response:
    wait = request.query.get("wait")
    if wait not in (None, "commit"):
        raise bad_request("wait must be 'commit' when given")
    raw = await _read_tx_body(request)
    if not raw:
        raise bad_request("empty transaction")
    backend = _backend(request)
    tx_hash = await backend.submit_tx(raw, client_of(request))
    if wait != "commit":
        return web.json_response({"tracking_code": tx_hash.hex(), "status": "pending"}, status=202)
    timeout = request.app[COMMIT_WAIT_KEY]
    committed = await backend.wait_commit(tx_hash, timeout)
    if committed is None:
        raise ApiError(
            ErrorCode.API_COMMIT_TIMEOUT,
            f"transaction {tx_hash.hex()} accepted but not committed within {timeout:.0f} s; "
            "query /v1/txs/{hash} later",
        )
    return web.json_response({"tracking_code": tx_hash.hex(), "status": "committed", **committed})


async def get_election(request: web.Request) -> web.Response:
    eid = parse_hex32(request.match_info["id"], "election id")
    e = _backend(request).election(eid)
    if e is None:
        raise not_found(f"no election {eid.hex()}")
    return web.json_response(e)


async def get_election_result(request: web.Request) -> web.Response:
    eid = parse_hex32(request.match_info["id"], "election id")
    result = _backend(request).election_result(eid)
    if result is None:
        raise not_found(f"no published result for election {eid.hex()}")
    return web.json_response(result)


async def get_receipt(request: web.Request) -> web.Response:
    h = parse_hex32(request.match_info["hash"], "tracking code")
    receipt = _backend(request).receipt(h)
    if receipt is None:
        raise not_found(f"no committed transaction {h.hex()}")
    return web.json_response(receipt)


async def get_metrics(request: web.Request) -> web.Response:
    body, ctype = request.app[METRICS_KEY].exposition()
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = ctype
    return resp


def make_app(
    backend: Backend, metrics: Metrics, max_request_bytes: int = 1 << 20, commit_wait_s: int = 30,
    body_timeout_s: float = 20.0,
) -> web.Application:
    """The aiohttp application of one node (peer routes are added by ``node.peer_routes``).

    ``client_max_size`` stays at the client limit: peer routes read their larger
    bodies through ``read_body`` with their own, authenticated, limit.
    """
    app = web.Application(middlewares=[error_middleware], client_max_size=max_request_bytes)
    app[BACKEND_KEY] = backend
    app[METRICS_KEY] = metrics
    app[COMMIT_WAIT_KEY] = float(commit_wait_s)
    app[MAX_BODY_KEY] = max_request_bytes
    app[BODY_TIMEOUT_KEY] = float(body_timeout_s)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/txs/{hash}", get_tx)
    app.router.add_post("/v1/txs", post_tx)
    app.router.add_get("/v1/elections/{id}", get_election)
    app.router.add_get("/v1/elections/{id}/result", get_election_result)
    app.router.add_get("/v1/receipts/{hash}", get_receipt)
    app.router.add_get("/metrics", get_metrics)
    return app
