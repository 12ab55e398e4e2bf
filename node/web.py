"""The voting page on every node: static files under ``/vote/``, the genesis for clients,
read-aloud clips, and CORS on the read API so a page can fetch receipts from an observer.

Routes added by ``add_web_routes``:

* ``GET /vote/`` and ``GET /vote/{election id}``: the page (``web/index.html``);
* ``GET /vote/static/...``: ``web/style.css``, ``web/boot.js``, ``web/src/**.js`` only;
* ``GET /vote/vendor/libsodium-*.mjs``: libsodium.js from ``web/node_modules`` (installed
  by ``scripts/_setup_web.sh`` from npm; never a CDN);
* ``GET /v1/genesis``: the canonical genesis bytes; the page hashes them itself and
  compares with the chain id it pins, so serving them needs no trust;
* ``GET /vote/speech/{election}/{lang}/{clip}.wav``: a clip of the manifest read aloud
  (``c<i>`` contest title, ``c<i>o<j>`` option, ``n<v>`` a rating, ``h<x>`` one hex digit
  of a tracking code: the page fetches all 16 and plays the code's short form), rendered with the
  project's speech engines and cached per manifest and language. Clips are named by
  position, never by the voter's text, so a request cannot make the node synthesize
  arbitrary speech, and the page fetches every clip of an election before playing the
  chosen ones, so which clips it asks for does not reveal a vote.

* ``GET /v1/elections/{election}/ballots?q=&offset=&limit=``: the public ballot box, one
  page of every ballot's tracking code (short and full) and what became of it, with counts
  (``node/ballotbox.py``); ``GET /vote/{election}/ballots`` is the page that shows it;
* ``GET /v1/ballots/{code}``: one ballot by its full tracking code or a unique short form;
* ``GET /v1/elections/{election}/voters/{key}``: a registered voter's record (public on the
  chain), so a used or unregistered code is refused on the start screen, before the ballot.

Every ``GET /v1/*`` answer carries ``Access-Control-Allow-Origin: *``: the API is public
read-only data, and the page checks a receipt against an observer by default, which is
another origin. The page itself is sent with a strict Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiohttp import web

from ballot_tx import yomi
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.manifest import Manifest, scale_ends
from genesis.document import Genesis, genesis_hash
from node import logs
from node.ballotbox import BallotBox, block_from_view
from node.server import BACKEND_KEY, ApiError, error_response

log = logs.get("web")

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
VENDOR = {
    "libsodium-wrappers.mjs": "libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs",
    "libsodium-sumo.mjs": "libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs",
    "qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",
}
STATIC_RE = re.compile(r"(style\.css|boot\.js|src/[a-z0-9_/]+\.js)")
CLIP_RE = re.compile(r"c(\d{1,2})(?:o(\d{1,2})|(s))?|n(\d{1,3})|h([0-9a-f])")
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html"}
CLIP_CACHE_MAX = 1024

GENESIS_KEY = web.AppKey("web_genesis", Genesis)
CLIPS_KEY = web.AppKey("web_clips", OrderedDict)
BOX_KEY = web.AppKey("web_ballot_box", dict)  # "box" -> BallotBox, made on first use
BOX_LOCK_KEY = web.AppKey("web_ballot_box_lock", asyncio.Lock)


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


def clip_text(m: Manifest, lang: str, clip: str) -> str | None:
    """The text of one read-aloud clip of a manifest, or None if there is no such clip."""
    match = CLIP_RE.fullmatch(clip)
    if not match:
        return None
    ci, oi, scale, level, digit = match.groups()
    if digit is not None:  # one character of a tracking code, for reading it out letter by letter
        return yomi.HEX_READINGS_JA[digit] if lang == "ja" else digit.upper()
    if level is not None:
        v = int(level)
        if v % 10 or v > 100:
            return None
        return f"{v}点" if lang == "ja" else f"{v} points"
    i = int(ci)
    if i >= len(m.contests):
        return None
    c = m.contests[i]
    if scale is not None:  # what 0 and 100 mean (the manifest's labels, else the defaults)
        if c.kind != "rating":
            return None
        low, high = scale_ends(c)
        if lang == "ja":
            return f"0は「{yomi.spoken(low.ja)}」、100は「{yomi.spoken(high.ja)}」です。"
        return f"0 means “{low.en}”, 100 means “{high.en}”."
    lbl = c.title if oi is None else (c.options[int(oi)].label if int(oi) < len(c.options) else None)
    if lbl is None:
        return None
    # Japanese is read by its reading (yomi) where the manifest gives one: 洞峰 as どうほう
    return yomi.spoken(lbl.ja) if lang == "ja" else lbl.en


def _synthesize_wav(text: str, lang: str) -> bytes:
    # The speech engines (node/speech.py) are optional; imported here lazily so
    # a node without them still serves the page (the clip route then answers an error).
    from node import speech

    return speech.synthesize(text, lang).wav_bytes()


async def speech_clip(request: web.Request) -> web.Response:
    eid_hex = request.match_info["eid"]
    lang = request.match_info["lang"]
    clip = request.match_info["clip"]
    if lang not in ("ja", "en") or not re.fullmatch(r"[0-9a-f]{64}", eid_hex):
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such clip")
    view: dict[str, Any] | None = request.app[BACKEND_KEY].election(bytes.fromhex(eid_hex))
    if view is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, f"no election {eid_hex}")
    manifest_bytes = bytes.fromhex(view["manifest_bytes"])
    text = clip_text(decode(Manifest, manifest_bytes), lang, clip)
    if text is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such clip")
    cache = request.app[CLIPS_KEY]
    key = (hashlib.sha256(manifest_bytes).digest(), lang, clip)
    wav = cache.get(key)
    if wav is None:
        try:
            wav = await asyncio.get_running_loop().run_in_executor(None, _synthesize_wav, text, lang)
        except BallotchainError as e:
            return error_response(e.code, e.message, 503)
        except Exception as e:  # a missing engine or a crash of one must not take the node down
            log.warning("speech synthesis failed", error=repr(e))
            return error_response(ErrorCode.SPEECH_FAILED, "speech could not be synthesized", 503)
        cache[key] = wav
        while len(cache) > CLIP_CACHE_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return web.Response(body=wav, content_type="audio/wav", headers={"Cache-Control": "max-age=86400"})


async def _ballot_box(request: web.Request) -> BallotBox:
    """The ballot box index, brought up to the node's committed height first (in a worker
    thread: the first read of a long chain must not stall the node's event loop)."""
    backend = request.app[BACKEND_KEY]
    holder: dict[str, BallotBox] = request.app[BOX_KEY]
    box = holder.get("box")
    if box is None:
        box = holder["box"] = BallotBox(lambda h: block_from_view(backend.block(h)))
    tip = int(backend.status().get("height", 0))
    if box.height < tip:
        async with request.app[BOX_LOCK_KEY]:
            await asyncio.get_running_loop().run_in_executor(None, box.refresh, tip)
    return box


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(ErrorCode.API_BAD_REQUEST, f"{name} must be a non-negative integer")
    return int(raw)


async def ballots(request: web.Request) -> web.Response:
    eid_hex = request.match_info["eid"].lower()
    if request.app[BACKEND_KEY].election(bytes.fromhex(eid_hex)) is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, f"no election {eid_hex}")
    box = await _ballot_box(request)
    try:
        page_doc = box.listing(bytes.fromhex(eid_hex), request.query.get("q", "")[:80],
                               _int_param(request, "offset", 0), _int_param(request, "limit", 100))
    except BallotchainError as e:
        return error_response(e.code, e.message, 400)
    return web.json_response(page_doc)


async def voter(request: web.Request) -> web.Response:
    eid = bytes.fromhex(request.match_info["eid"])
    key = bytes.fromhex(request.match_info["key"])
    lookup = getattr(request.app[BACKEND_KEY], "voter", None)
    doc = lookup(eid, key) if lookup is not None else None
    if doc is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, "this key is not a registered voter of this election")
    return web.json_response(doc)


async def ballot(request: web.Request) -> web.Response:
    box = await _ballot_box(request)
    try:
        return web.json_response(box.lookup(request.match_info["code"][:200]))
    except BallotchainError as e:
        status = {ErrorCode.RECEIPT_NOT_FOUND: 404, ErrorCode.RECEIPT_AMBIGUOUS: 409}.get(ErrorCode(e.code), 400)
        return error_response(e.code, e.message, status)


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.method == "GET" and request.path.startswith("/v1/"):
        response.headers["Access-Control-Allow-Origin"] = "*"


def add_web_routes(app: web.Application, genesis: Genesis) -> None:
    """Serve the voting page and its helpers on a node's client API (see module doc)."""
    app[GENESIS_KEY] = genesis
    app[CLIPS_KEY] = OrderedDict()
    app[BOX_KEY] = {}
    app[BOX_LOCK_KEY] = asyncio.Lock()
    app.on_response_prepare.append(_cors)
    app.router.add_get("/vote", vote_root)
    app.router.add_get("/vote/", page)
    app.router.add_get(r"/vote/{eid:[0-9a-fA-F]{64}}", page)
    app.router.add_get(r"/vote/{eid:[0-9a-fA-F]{64}}/ballots", page)
    app.router.add_get(r"/v1/elections/{eid:[0-9a-fA-F]{64}}/ballots", ballots)
    app.router.add_get(r"/v1/ballots/{code}", ballot)
    app.router.add_get(r"/v1/elections/{eid:[0-9a-fA-F]{64}}/voters/{key:[0-9a-fA-F]{64}}", voter)
    app.router.add_get(r"/vote/static/{path:.+}", static)
    app.router.add_get(r"/vote/vendor/{name}", vendor)
    app.router.add_get(r"/vote/speech/{eid}/{lang}/{clip}.wav", speech_clip)
    app.router.add_get("/v1/genesis", get_genesis)
