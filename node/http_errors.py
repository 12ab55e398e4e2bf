"""The error discipline of every HTTP route a node serves (client API, peer routes, voting
page, backup; the registrar's service too).

Every failure is ``{"error": CODE, "message": ...}`` with a 4xx status (503 only when the
node itself cannot serve: no validator reachable, or its own database failed: full,
read-only, damaged). Bad input never yields a 500: ``error_middleware`` maps any
unexpected exception to ``400 API_BAD_REQUEST`` and logs it with its traceback, so a bug
is visible to the operator without giving a client a crash to aim at. Bodies are read
through ``read_body``, with a limit per route and a deadline against slow senders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from ballot_tx.errors import BallotchainError, ErrorCode
from node import logs
from node.metrics import Metrics

log = logs.get("api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: HTTP status per error code; anything unlisted is 400.
STATUS: dict[str, int] = {
    ErrorCode.API_NOT_FOUND: 404,
    ErrorCode.API_METHOD_NOT_ALLOWED: 405,
    ErrorCode.API_TOO_LARGE: 413,
    ErrorCode.API_UNSUPPORTED_MEDIA: 415,
    ErrorCode.API_RATE_LIMITED: 429,
    ErrorCode.NODE_MEMPOOL_FULL: 429,
    ErrorCode.NODE_DUPLICATE_TX: 409,
    ErrorCode.API_COMMIT_TIMEOUT: 408,
    ErrorCode.API_REQUEST_TIMEOUT: 408,
    ErrorCode.NODE_NOT_VALIDATOR: 403,
    ErrorCode.NODE_UNAVAILABLE: 503,
    ErrorCode.NODE_STORE_DAMAGED: 503,
    ErrorCode.STORE_DISK_FULL: 503,
    ErrorCode.STORE_READ_ONLY: 503,
    ErrorCode.STORE_IO: 503,
    ErrorCode.STORE_CORRUPT: 503,
}

_HTTP_CODES = {
    404: ErrorCode.API_NOT_FOUND,
    405: ErrorCode.API_METHOD_NOT_ALLOWED,
    413: ErrorCode.API_TOO_LARGE,
    415: ErrorCode.API_UNSUPPORTED_MEDIA,
}

METRICS_KEY = web.AppKey("metrics", Metrics)


class ApiError(BallotchainError):
    """A client-facing API failure."""


def not_found(what: str) -> ApiError:
    return ApiError(ErrorCode.API_NOT_FOUND, what)


def bad_request(what: str) -> ApiError:
    return ApiError(ErrorCode.API_BAD_REQUEST, what)


def error_response(code: str, message: str, status: int | None = None) -> web.Response:
    return web.json_response(
        {"error": str(code), "message": message}, status=status or STATUS.get(code, 400)
    )


def _count(request: web.Request, code: str) -> None:
    m = request.app.get(METRICS_KEY)
    if m is not None:
        m.http_errors.labels(code=str(code)).inc()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BallotchainError as e:
        _count(request, e.code)
        return error_response(e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, ErrorCode.API_BAD_REQUEST)
        _count(request, code)
        return error_response(code, e.reason or "bad request", e.status if e.status < 500 else 400)
    except Exception:
        log.exception("unexpected error on request", method=request.method, path=request.path)
        _count(request, ErrorCode.API_BAD_REQUEST)
        return error_response(ErrorCode.API_BAD_REQUEST, "the request could not be processed")


# --- bodies ------------------------------------------------------------------------


def too_large(limit: int) -> ApiError:
    return ApiError(ErrorCode.API_TOO_LARGE, f"the request body exceeds {limit} bytes on this route")


async def read_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The body of ``request``, refused with 413 before ``limit`` bytes are exceeded.

    aiohttp's ``client_max_size`` is one number for the whole application, so each
    route reads through here with its own limit instead: a declared
    ``Content-Length`` above the limit is refused before a byte of the body is
    read, and a chunked body is cut off as soon as the stream passes the limit.
    A body that trickles in slower than ``timeout_s`` in total is a slowloris and
    is refused with ``API_REQUEST_TIMEOUT``. Either way the connection is closed
    afterwards (the runner does no lingering read), so the rest is never read.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(limit)
    buf = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_any():
                buf += chunk
                if len(buf) > limit:
                    raise too_large(limit)
    except TimeoutError:
        raise ApiError(
            ErrorCode.API_REQUEST_TIMEOUT, f"the request body did not arrive within {timeout_s:.0f} s"
        ) from None
    return bytes(buf)
