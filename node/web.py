"""The voting page on every node: static files under ``/vote/``, the genesis for clients,
and CORS on the read API so a page can fetch receipts from an observer.

Routes added by ``add_web_routes``:

* ``GET /vote/`` and ``GET /vote/{election id}``: the page (``web/index.html``);
* ``GET /vote/static/...``: ``web/style.css``, ``web/boot.js``, ``web/src/**.js`` only;
* ``GET /vote/vendor/libsodium-*.mjs``: libsodium.js from ``web/node_modules`` (installed
  by ``scripts/_setup_web.sh`` from npm; never a CDN);
* ``GET /v1/genesis``: the canonical genesis bytes; the page hashes them itself and
  compares with the chain id it pins, so serving them needs no trust;
* the read-aloud clips (``node/speech_clips.py``) and the public ballot box and voter
  check (``node/ballotbox_routes.py``), which the page calls.

Every ``GET /v1/*`` answer carries ``Access-Control-Allow-Origin: *``: the API is public
read-only data, and the page checks a receipt against an observer by default, which is
another origin. The page itself is sent with a strict Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from aiohttp import web

from ballot_tx.codec import encode
from ballot_tx.errors import ErrorCode
from genesis.document import Genesis, genesis_hash
from node import logs
from node.ballotbox_routes import add_ballotbox_routes
from node.http_errors import ApiError
from node.speech_clips import add_clip_routes

log = logs.get("web")

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
VENDOR = {
    "libsodium-wrappers.mjs": "libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs",
    "libsodium-sumo.mjs": "libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs",
    "qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",
}
STATIC_RE = re.compile(r"(style\.css|boot\.js|src/[a-z0-9_/]+\.js)")
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html"}

GENESIS_KEY = web.AppKey("web_genesis", Genesis)


def _import_map_hash(html: str) -> str:
    m = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert m, "web/index.html has no import map"
    return base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()


def _csp(html: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'wasm-unsafe-eval' 'sha256-{_import_map_hash(html)}'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self' http: https: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ])


def _file_response(path: Path) -> web.StreamResponse:
    if not path.is_file():
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such file of the voting page")
    resp = web.FileResponse(path)
    resp.content_type = TYPES.get(path.suffix, "application/octet-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


async def page(request: web.Request) -> web.Response:
    html = (WEB_DIR / "index.html").read_text()
    resp = web.Response(text=html, content_type="text/html")
    resp.headers["Content-Security-Policy"] = _csp(html)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


async def vote_root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/vote/")


async def static(request: web.Request) -> web.StreamResponse:
    rel = request.match_info["path"]
    if not STATIC_RE.fullmatch(rel) or ".." in rel:
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such file of the voting page")
    return _file_response(WEB_DIR / rel)


async def vendor(request: web.Request) -> web.StreamResponse:
    rel = VENDOR.get(request.match_info["name"])
    if rel is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such library")
    path = WEB_DIR / "node_modules" / rel
    if not path.is_file():
        raise ApiError(ErrorCode.API_NOT_FOUND, "the voting page's libraries are not installed: run scripts/_setup_web.sh")
    return _file_response(path)


async def get_genesis(request: web.Request) -> web.Response:
    g = request.app[GENESIS_KEY]
    return web.json_response({
        "chain_id": genesis_hash(g).hex(),
        "chain": g.chain_id,
        "genesis_bytes": encode(g).hex(),
    })


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.method == "GET" and request.path.startswith("/v1/"):
        response.headers["Access-Control-Allow-Origin"] = "*"


def add_web_routes(app: web.Application, genesis: Genesis) -> None:
    """Serve the voting page and its helpers on a node's client API (see module doc)."""
    app[GENESIS_KEY] = genesis
    app.on_response_prepare.append(_cors)
    app.router.add_get("/vote", vote_root)
    app.router.add_get("/vote/", page)
    app.router.add_get(r"/vote/{eid:[0-9a-fA-F]{64}}", page)
    app.router.add_get(r"/vote/{eid:[0-9a-fA-F]{64}}/ballots", page)
    app.router.add_get(r"/vote/static/{path:.+}", static)
    app.router.add_get(r"/vote/vendor/{name}", vendor)
    app.router.add_get("/v1/genesis", get_genesis)
    add_clip_routes(app)
    add_ballotbox_routes(app)
