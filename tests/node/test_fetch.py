"""Fetching certified blocks (``node.sync.fetch_certified``): a block as large as genesis
allows must come through. A record over msgpack's 1 MiB default was dropped as
unreadable, so an observer (or a catching-up validator) stopped for good at the first
block over 1 MiB: seen in bench_network with 256 demo ballots in flight (a 1.43 MB block
8; the observer stayed at height 7 with the validators at 38, also with no load)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from ballot_tx.codec import pack
from genesis.document import MAX_BLOCK_BYTES_LIMIT
from node.sync import fetch_certified


def test_a_block_as_large_as_genesis_allows_is_fetched() -> None:
    big = bytes(range(256)) * (MAX_BLOCK_BYTES_LIMIT // 256)  # 4 MiB: the largest block a genesis may allow
    cert = b"c" * 200
    records = [pack([b"small block", cert]), pack([big, cert])]

    async def blocks(request: web.Request) -> web.Response:
        assert request.query["from"] == "8"
        return web.Response(body=pack([9, records]), content_type="application/msgpack")

    async def main() -> list[tuple[bytes, bytes]]:
        app = web.Application()
        app.router.add_get("/p2p/blocks", blocks)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as session:
                return await fetch_certified(session, [f"http://127.0.0.1:{port}"], 8)
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == [(b"small block", cert), (big, cert)]
