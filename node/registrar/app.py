"""The registrar's HTTP application: routes, CORS for the voting pages, coded errors.

Routes (JSON; errors are ``{"error": CODE, "message": ...}`` with a 4xx status, as on a
node, and change nothing; 502 when the identity provider fails; never a 500):

* ``GET /v1/registrar``: chain id, elections served, methods, the identity provider the
  served city-login manifests name;
* ``POST /v1/register/card``: an ID-card request (``ballotchain voter card-sign``
  output) for a ``registered-key`` election;
* ``POST /v1/login/start`` ``{election_id, voter_public, return_to?}``: begins a
  ``city-login`` sign-in; answers the provider's authorization URL (code flow with
  PKCE S256, a fresh ``state`` and ``nonce``, kept here for ``login_ttl_s``) and the
  same request's parameters without the client id, which the page takes from the manifest;
* ``GET /v1/login/callback?code&state[&iss]``: the provider sends the voter back
  here; the service takes the sign-in by its ``state`` (once), exchanges the code
  with the PKCE verifier and verifies the ID token (``ballot_tx.eligibility.city_login``).
  It then hands the browser a fresh one-time ``finish`` token: with a ``return_to`` in
  the fragment (``#login=TOKEN``, or ``#registration_error=CODE``), without one as JSON;
* ``POST /v1/login/finish`` ``{token, signature}``: the signature is the voter key's
  over the election and the token (kind ``registrar-login``, this chain), proving that
  the browser which came back from the sign-in holds the key being registered;
* ``GET /metrics``: Prometheus counters.

The rate-limited routes are ``LIMITED`` (see ``limiter.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ballot_tx.errors import BallotchainError, ErrorCode
from node import logs
from node.http_errors import STATUS, error_response
from node.registrar.errors import RegistrarError
from node.registrar.service import Registrar

log = logs.get("registrar")

HTTP_STATUS = {
    **STATUS,
    ErrorCode.REGISTRAR_NOT_SERVED: 404,
    ErrorCode.REGISTRAR_PROVIDER_ERROR: 502,
    ErrorCode.REGISTRAR_NOT_KEY_HOLDER: 403,
    ErrorCode.REGISTRAR_PROVIDER_MISMATCH: 503,
    ErrorCode.TX_CARD_TAG_USED: 409,
    ErrorCode.TX_VOTER_REGISTERED: 409,
}



REGISTRAR_KEY = web.AppKey("registrar", Registrar)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(request: web.Request, code: str, message: str) -> web.Response:
    request.app[REGISTRAR_KEY].http_errors.labels(code=code).inc()
    return error_response(code, message, HTTP_STATUS.get(code, 400))


#: Routes that create state or cost work for an unauthenticated client: rate-limited.
LIMITED = frozenset({("POST", "/v1/login/start"), ("GET", "/v1/login/callback"),
                     ("POST", "/v1/login/finish"), ("POST", "/v1/register/card")})


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure is a coded 4xx JSON answer (502 when the provider fails); never a 500.
    The limited routes spend a token of the client's bucket before anything else."""
    try:
        reg = request.app[REGISTRAR_KEY]
        if (request.method, request.path) in LIMITED:
            client = reg.limiter.client(request.remote, request.headers.get("X-Forwarded-For"))
            if not reg.limiter.allow(client):
                reg.rate_limited.inc()
                refusal = _error(request, ErrorCode.API_RATE_LIMITED,
                                 "too many requests from this address; retry later")
                refusal.headers["Retry-After"] = str(reg.limiter.retry_after_s)
                return _cors(request, refusal)
        resp = await handler(request)
    except BallotchainError as e:
        resp = _error(request, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = {404: ErrorCode.API_NOT_FOUND, 405: ErrorCode.API_METHOD_NOT_ALLOWED,
                413: ErrorCode.API_TOO_LARGE}.get(e.status, ErrorCode.API_BAD_REQUEST)
        resp = _error(request, code, e.reason or "bad request")
    except Exception:
        log.exception("unexpected error on request", method=request.method, path=request.path)
        resp = _error(request, ErrorCode.API_BAD_REQUEST, "the request could not be processed")
    return _cors(request, resp)


def _cors(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    reg = request.app[REGISTRAR_KEY]
    if origin and origin.lower() in reg.cfg.page_origins and request.path != "/v1/login/callback":
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
    return resp


async def _read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise RegistrarError(ErrorCode.API_UNSUPPORTED_MEDIA, "send application/json")
    try:
        return json.loads(await request.text())
    except ValueError:
        raise RegistrarError(ErrorCode.API_BAD_REQUEST, "the body is not JSON") from None


async def _info(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    return web.json_response({"chain_id": (await reg.chain.chain_id()).hex(), **reg.info()})


async def _card(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    try:
        if request.content_type != "application/json":
            raise RegistrarError(ErrorCode.API_UNSUPPORTED_MEDIA, "send the request as application/json")
        doc = await reg.register_card(await request.text())
    except BallotchainError as e:
        reg._count("registered-key", e.code)
        raise
    reg._count("registered-key", "OK")
    return web.json_response(doc)


async def _login_start(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    return web.json_response(await reg.login_start(await _read_json(request)))


async def _login_callback(request: web.Request) -> web.StreamResponse:
    reg = request.app[REGISTRAR_KEY]
    query = {k: v for k, v in request.query.items()}
    login = reg.take_login(query.get("state"))
    try:
        doc = await reg.login_callback(login, query)
    except BallotchainError as e:
        reg._count("city-login", e.code)
        if login.return_to is None:
            raise
        log.info("login refused", election=login.eid, code=e.code)
        raise web.HTTPSeeOther(f"{login.return_to}#" + urlencode({"registration_error": e.code})) from None
    if login.return_to is None:
        return web.json_response(doc)
    raise web.HTTPSeeOther(f"{login.return_to}#" + urlencode({"login": doc["finish_token"]}))


async def _login_finish(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    try:
        doc = await reg.finish_login(await _read_json(request))
    except BallotchainError as e:
        reg._count("city-login", e.code)
        raise
    reg._count("city-login", "OK")
    return web.json_response(doc)


async def _preflight(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    origin = request.headers.get("Origin", "")
    if origin.lower() not in reg.cfg.page_origins:
        raise RegistrarError(ErrorCode.API_BAD_REQUEST, "this origin may not call the registrar")
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    })


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRAR_KEY].registry)
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def make_app(reg: Registrar) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=reg.cfg.max_request_bytes)
    app[REGISTRAR_KEY] = reg
    app.router.add_get("/v1/registrar", _info)
    app.router.add_post("/v1/register/card", _card)
    app.router.add_post("/v1/login/start", _login_start)
    app.router.add_get("/v1/login/callback", _login_callback)
    app.router.add_post("/v1/login/finish", _login_finish)
    app.router.add_route("OPTIONS", "/v1/{tail:.*}", _preflight)
    app.router.add_get("/metrics", _metrics)

    async def batcher(app: web.Application) -> Any:
        task = asyncio.create_task(reg.batcher.run())
        yield
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    app.cleanup_ctx.append(batcher)
    return app
