"""Peer transport: authenticated envelopes, validator-only consensus route, TLS, bounded queues
(the stream itself: tests/node/test_peer_stream.py)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ballot_tx.keys import KeyPair, load_key_file
from genesis.document import genesis_hash
from node.homes import make_network
from node.metrics import Metrics
from node.peer_envelope import (
    TOPIC_CONSENSUS,
    TOPIC_TXS,
    PeerError,
    open_envelope,
    preamble,
    seal,
)
from node.peer_link import PeerLink
from node.peer_routes import add_routes
from node.sync import fetch_blocks, fetch_tip
from node.tls import client_ssl_context, server_ssl_context
from tests.node.tlsca import make_ca_and_cert


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        self.consensus: list[tuple[int, tuple[bytes, ...]]] = []
        self.txs: list[tuple[bytes, tuple[bytes, ...]]] = []
        self.got = asyncio.Event()

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        self.consensus.append((sender_index, payloads))
        self.got.set()

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None:
        self.txs.append((sender, payloads))
        self.got.set()

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]:
        return [b"block%d" % h for h in range(height, min(height + limit, 6))]

    def tip(self) -> int:
        return 5


def network_members(out: Path, name: str, base_port: int) -> tuple[Any, bytes, list[KeyPair]]:
    """A 4+1 network's genesis, chain id and the members' keys (validators first)."""
    g, homes = make_network(out / "net", name, 4, 1, base_port=base_port)
    keys = [load_key_file((h.path / "node.key").read_text()) for h in homes]
    return g, genesis_hash(g), keys


@pytest.fixture(scope="module")
def net(tmp_path_factory: Any) -> Any:
    return network_members(tmp_path_factory.mktemp("net"), "peers-test", 17100)


def test_envelope_rules(net: Any) -> None:
    g, cid, keys = net
    v0, obs = keys[0], keys[4]
    env = open_envelope(g, cid, seal(v0, cid, TOPIC_CONSENSUS, [b"a", b"b"]), TOPIC_CONSENSUS)
    assert env.payloads == (b"a", b"b") and env.sender == v0.ed25519_public
    # an observer may forward transactions but never speak on the consensus route
    open_envelope(g, cid, seal(obs, cid, TOPIC_TXS, [b"t"]), TOPIC_TXS)
    with pytest.raises(PeerError) as e:
        open_envelope(g, cid, seal(obs, cid, TOPIC_CONSENSUS, [b"x"]), TOPIC_CONSENSUS)
    assert e.value.code == "NODE_NOT_VALIDATOR"
    stranger = KeyPair.generate()
    with pytest.raises(PeerError) as e:
        open_envelope(g, cid, seal(stranger, cid, TOPIC_TXS, [b"x"]), TOPIC_TXS)
    assert e.value.code == "NODE_NOT_VALIDATOR"
    # another chain's signature, a flipped byte, the wrong route, garbage
    with pytest.raises(PeerError) as e:
        open_envelope(g, cid, seal(v0, b"\x00" * 32, TOPIC_CONSENSUS, [b"a"]), TOPIC_CONSENSUS)
    assert e.value.code == "NODE_BAD_PEER_MESSAGE"
    good = bytearray(seal(v0, cid, TOPIC_CONSENSUS, [b"abc"]))
    good[-70] ^= 1
    with pytest.raises(PeerError):
        open_envelope(g, cid, bytes(good), TOPIC_CONSENSUS)
    with pytest.raises(PeerError):
        open_envelope(g, cid, seal(v0, cid, TOPIC_TXS, [b"a"]), TOPIC_CONSENSUS)
    with pytest.raises(PeerError):
        open_envelope(g, cid, b"\xc1garbage", TOPIC_CONSENSUS)


async def _serve(app: web.Application, port: int, ssl_ctx: Any = None) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx).start()
    return runner


async def test_link_over_tls_delivers_batches_and_fetches(net: Any, tmp_path: Path) -> None:
    g, cid, keys = net
    ca, cert, key = make_ca_and_cert(tmp_path / "tls")
    sink = Sink()
    app = web.Application()
    add_routes(app, sink, g, cid)
    port = free_port()
    runner = await _serve(app, port, server_ssl_context(str(cert), str(key)))
    url = f"https://127.0.0.1:{port}"
    try:
        conn = aiohttp.TCPConnector(ssl=client_ssl_context(str(ca)))
        async with aiohttp.ClientSession(connector=conn) as session:
            link = PeerLink(url, session, lambda t, p: seal(keys[1], cid, t, p), 100, Metrics(), "v0",
                            lambda t, n: preamble(keys[1], cid, t, n))
            link.start()
            for i in range(5):
                link.send(TOPIC_CONSENSUS, b"m%d" % i)
            link.send(TOPIC_TXS, b"tx")
            for _ in range(100):
                if sum(len(p) for _, p in sink.consensus) == 5 and sink.txs:
                    break
                await asyncio.sleep(0.02)
            assert [m for _, p in sink.consensus for m in p] == [b"m%d" % i for i in range(5)]
            assert {i for i, _ in sink.consensus} == {1}
            assert sink.txs == [(keys[1].ed25519_public, (b"tx",))]
            assert link.connected and link.streaming  # (a WebSocket over TLS)
            await link.stop()
            assert await fetch_tip(session, url) == 5
            tip, blocks = await fetch_blocks(session, url, 3, 10)
            assert tip == 5 and blocks == [b"block3", b"block4", b"block5"]
        # a client that does not trust the test CA cannot talk to the node
        async with aiohttp.ClientSession() as plain:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await fetch_tip(plain, url)
    finally:
        await runner.cleanup()


async def test_unreachable_peer_queue_is_bounded_then_drains(net: Any) -> None:
    g, cid, keys = net
    port = free_port()
    metrics = Metrics()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        link = PeerLink(f"http://127.0.0.1:{port}", session,
                        lambda t, p: seal(keys[2], cid, t, p), 10, metrics, "v3")
        link.start()
        for i in range(50):
            link.send(TOPIC_CONSENSUS, b"m%d" % i)
            await asyncio.sleep(0)
        await asyncio.sleep(0.3)
        assert link.queued() <= 10 and not link.connected and link.failures >= 1
        dropped = metrics.peer_dropped.labels(peer="v3")._value.get()
        assert dropped >= 40
        # the peer comes up: the link reconnects (backoff) and delivers the newest messages
        sink = Sink()
        app = web.Application()
        add_routes(app, sink, g, cid)
        runner = await _serve(app, port)
        try:
            for _ in range(300):
                if link.queued() == 0 and sink.consensus:
                    break
                await asyncio.sleep(0.02)
            got = [m for _, p in sink.consensus for m in p]
            assert got and got[-1] == b"m49" and len(got) <= 10
        finally:
            await link.stop()
            await runner.cleanup()
