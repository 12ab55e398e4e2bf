"""The public ballot box and the voter check, over HTTP for the voting page.

* ``GET /v1/elections/{election}/ballots?q=&offset=&limit=``: the public ballot box, one
  page of every ballot's tracking code (short and full) and what became of it, with counts
  (``node/ballotbox.py``); ``GET /vote/{election}/ballots`` is the page that shows it;
* ``GET /v1/ballots/{code}``: one ballot by its full tracking code or a unique short form;
* ``GET /v1/elections/{election}/voters/{key}``: a registered voter's record (public on the
  chain), so a used or unregistered code is refused on the start screen, before the ballot.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ballot_tx.errors import BallotchainError, ErrorCode
from node import logs
from node.ballotbox import BallotBox, block_from_view
from node.http_errors import ApiError, error_response
from node.server import BACKEND_KEY

log = logs.get("web")

BOX_KEY = web.AppKey("web_ballot_box", dict)  # "box" -> BallotBox, made on first use
BOX_LOCK_KEY = web.AppKey("web_ballot_box_lock", asyncio.Lock)


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


def add_ballotbox_routes(app: web.Application) -> None:
    app[BOX_KEY] = {}
    app[BOX_LOCK_KEY] = asyncio.Lock()
    app.router.add_get(r"/v1/elections/{eid:[0-9a-fA-F]{64}}/ballots", ballots)
    app.router.add_get(r"/v1/ballots/{code}", ballot)
    app.router.add_get(r"/v1/elections/{eid:[0-9a-fA-F]{64}}/voters/{key:[0-9a-fA-F]{64}}", voter)
