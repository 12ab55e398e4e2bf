"""``GET /v1/admin/backup``: a running node streams its backup to its own host.

The backup file itself (its format, writing, checking and restoring) is ``node.backup``;
this module is only its HTTP route, separate as the other route tables are
(``node.peer_routes``, ``node.ballotbox_routes``), so the file format needs no web
server and the route's access rule reads on its own: loopback only, and not through a
reverse proxy (a request carrying a forwarding header is refused), because a backup
holds the whole database (docs/api.md, "Backups"; docs/node.md, "Backup and restore").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from ballot_tx.errors import ErrorCode
from genesis.document import Genesis
from node.backup import backup_chunks
from node.http_errors import error_response
from node.store import Store

ROUTE = "/v1/admin/backup"


def _local_only(request: web.Request) -> bool:
    forwarded = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    return request.remote in ("127.0.0.1", "::1") and not forwarded


def add_backup_route(app: web.Application, store: Callable[[], Store | None],
                     genesis: Genesis) -> None:
    """``GET /v1/admin/backup``: the backup file, streamed from a snapshot."""

    async def get_backup(request: web.Request) -> web.StreamResponse:
        if not _local_only(request):
            return error_response(ErrorCode.API_FORBIDDEN,
                                  "backups are served to the node's own host only", 403)
        live_store = store()
        if live_store is None:
            return error_response(ErrorCode.NODE_UNAVAILABLE, "the node is starting", 503)
        chunks = backup_chunks(live_store.db, genesis)
        first = await asyncio.to_thread(next, chunks)
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await resp.prepare(request)
        await resp.write(first)
        done = object()
        while True:
            chunk = await asyncio.to_thread(next, chunks, done)
            if chunk is done:
                break
            assert isinstance(chunk, bytes)
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    app.router.add_get(ROUTE, get_backup)
