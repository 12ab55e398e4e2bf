"""``ballotchain registrar serve``: build the service, check its elections, serve until a
signal (requests in flight are answered), over TLS when the config names a certificate."""

from __future__ import annotations

import asyncio
import signal
import ssl

import aiohttp
from aiohttp import web

from ballot_tx.errors import ErrorCode
from ballot_tx.keys import KeyPair
from node import logs
from node.registrar.app import make_app
from node.registrar.chain_link import ChainLink
from node.registrar.config import RegistrarConfig
from node.registrar.errors import RegistrarError
from node.registrar.provider import Provider
from node.registrar.service import Registrar

log = logs.get("registrar")

def _ssl(cfg: RegistrarConfig) -> ssl.SSLContext | None:
    if cfg.tls_cert is None or cfg.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as e:
        raise RegistrarError(ErrorCode.CONFIG_TLS, f"cannot load the TLS certificate or key: {e}") from None
    return ctx


async def run_registrar(cfg: RegistrarConfig, keys: KeyPair, node_url: str) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly (requests in flight are answered)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession() as session:
        chain = ChainLink(node_url, keys, session)
        make_provider = None
        if cfg.city_login is not None:
            c = cfg.city_login

            def make_provider(issuer: str, client_id: str) -> Provider:
                return Provider(issuer, client_id, c.redirect_uri, c.client_secret, session)

        reg = Registrar(cfg, keys, chain, make_provider)
        await reg.check_elections()  # REGISTRAR_PROVIDER_MISMATCH: refuse to start
        runner = web.AppRunner(make_app(reg), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, cfg.listen_host, cfg.listen_port, ssl_context=_ssl(cfg))
        await site.start()
        scheme = "https" if cfg.tls_cert else "http"
        url = f"{scheme}://{cfg.listen_host}:{cfg.listen_port}"
        log.info("registrar listening", url=url, elections=len(cfg.elections))
        try:
            await stop.wait()
            log.info("stopping on signal")
        finally:
            await runner.cleanup()
