"""The peer stream (``GET /p2p/stream``): who may open one, what a frame must be, and the
fallback to POSTs for a peer without it. Each attack is built with the project's own
sealing and preamble functions and must be refused with its code, leaving the stream of
an honest member working."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web

from ballot_tx.keys import KeyPair
from node.guard import Handler
from node.metrics import Metrics
from node.peer_envelope import (
    PEER_HEADER,
    PREAMBLE_KIND,
    TOPIC_CONSENSUS,
    TOPIC_STREAM,
    TOPIC_TXS,
    UNAUTH_PEER_BYTES,
    PeerError,
    _preamble_body,
    open_stream_frame,
    preamble,
    seal,
    stream_ack,
)
from node.peer_link import PeerLink
from node.peer_routes import add_routes
from tests.node.test_peers import Sink, _serve, free_port, network_members


@pytest.fixture(scope="module")
def net(tmp_path_factory: Any) -> Any:
    return network_members(tmp_path_factory.mktemp("net"), "stream-test", 17200)


async def _until(cond: Any, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await asyncio.sleep(0.02)


def test_frame_rules(net: Any) -> None:
    """A frame is an envelope of either topic from the member who opened the stream."""
    g, cid, keys = net
    v1, v2, obs = keys[1], keys[2], keys[4]
    env = open_stream_frame(g, cid, seal(v1, cid, TOPIC_CONSENSUS, [b"m"]), v1.ed25519_public)
    assert env.topic == TOPIC_CONSENSUS and env.payloads == (b"m",)
    assert open_stream_frame(g, cid, seal(obs, cid, TOPIC_TXS, [b"t"]), obs.ed25519_public).topic == TOPIC_TXS
    cases = [
        # another validator's genuine envelope relayed on v1's stream
        (seal(v2, cid, TOPIC_CONSENSUS, [b"m"]), v1, "NODE_BAD_PEER_MESSAGE"),
        # an observer speaking on the consensus topic
        (seal(obs, cid, TOPIC_CONSENSUS, [b"m"]), obs, "NODE_NOT_VALIDATOR"),
        # a topic that does not exist (the stream's own preamble topic included)
        (seal(v1, cid, TOPIC_STREAM, [b"m"]), v1, "NODE_BAD_PEER_MESSAGE"),
        # another chain's signature, garbage
        (seal(v1, b"\x00" * 32, TOPIC_TXS, [b"t"]), v1, "NODE_BAD_PEER_MESSAGE"),
        (b"\xc1garbage", v1, "NODE_BAD_PEER_MESSAGE"),
    ]
    for data, opener, code in cases:
        with pytest.raises(PeerError) as e:
            open_stream_frame(g, cid, data, opener.ed25519_public)
        assert e.value.code == code


@pytest.fixture
async def node(net: Any) -> AsyncIterator[tuple[str, Sink]]:
    g, cid, _ = net
    sink = Sink()
    app = web.Application()
    add_routes(app, sink, g, cid)
    port = free_port()
    runner = await _serve(app, port)
    try:
        yield f"http://127.0.0.1:{port}", sink
    finally:
        await runner.cleanup()


async def _refusal(session: aiohttp.ClientSession, url: str, header: str | None) -> tuple[int, str]:
    headers = {} if header is None else {PEER_HEADER: header}
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        await session.ws_connect(f"{url}/p2p/stream", headers=headers)
    async with session.get(f"{url}/p2p/stream", headers={
            **({} if header is None else {PEER_HEADER: header}),
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
        body = await r.json()
    return e.value.status, str(body["error"])


async def test_only_a_member_with_a_fresh_header_opens_a_stream(net: Any, node: Any) -> None:
    g, cid, keys = net
    url, sink = node
    v1 = keys[1]
    stranger = KeyPair.generate()
    t = int(time.time() * 1000)
    stale = v1.sign(PREAMBLE_KIND, cid, _preamble_body(v1.ed25519_public, TOPIC_STREAM, 0, t - 3_600_000))
    async with aiohttp.ClientSession() as s:
        assert await _refusal(s, url, None) == (403, "NODE_NOT_VALIDATOR")
        assert await _refusal(s, url, preamble(stranger, cid, TOPIC_STREAM, 0)) == (403, "NODE_NOT_VALIDATOR")
        # signed for another topic or length, for another chain, an hour old, or garbage
        assert await _refusal(s, url, preamble(v1, cid, TOPIC_TXS, 0)) == (400, "NODE_BAD_PEER_MESSAGE")
        assert await _refusal(s, url, preamble(v1, cid, TOPIC_STREAM, 1)) == (400, "NODE_BAD_PEER_MESSAGE")
        assert await _refusal(s, url, preamble(v1, b"\x00" * 32, TOPIC_STREAM, 0)) == (
            400, "NODE_BAD_PEER_MESSAGE")
        header = f"{v1.ed25519_public.hex()}:{t - 3_600_000}:{stale.hex()}"
        assert await _refusal(s, url, header) == (400, "NODE_BAD_PEER_MESSAGE")
        assert await _refusal(s, url, "zz:1:zz") == (400, "NODE_BAD_PEER_MESSAGE")
        # a good header opens one stream, once: the same header again is a replay
        good = preamble(v1, cid, TOPIC_STREAM, 0)
        ws = await s.ws_connect(f"{url}/p2p/stream", headers={PEER_HEADER: good})
        await ws.close()
        assert await _refusal(s, url, good) == (400, "NODE_BAD_PEER_MESSAGE")
    assert not sink.consensus and not sink.txs


async def test_bad_frames_are_dropped_and_the_stream_goes_on(net: Any, node: Any) -> None:
    g, cid, keys = net
    url, sink = node
    v1, v2, obs = keys[1], keys[2], keys[4]
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(f"{url}/p2p/stream", headers={PEER_HEADER: preamble(obs, cid, TOPIC_STREAM, 0)})
        for bad in (seal(obs, cid, TOPIC_CONSENSUS, [b"forged vote"]),  # an observer on consensus
                    seal(v2, cid, TOPIC_TXS, [b"relayed"]),  # another member's envelope
                    b"\xc1garbage"):
            await ws.send_bytes(bad)
        await ws.send_bytes(seal(obs, cid, TOPIC_TXS, [b"tx1", b"tx2"]))
        await _until(lambda: bool(sink.txs))
        assert sink.txs == [(obs.ed25519_public, (b"tx1", b"tx2"))] and not sink.consensus
        # a text frame is not part of the protocol: the node closes the stream
        await ws.send_str("hello")
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.CLOSE and msg.data == WSCloseCode.UNSUPPORTED_DATA
        await ws.close()
        # a validator's stream carries both topics, in order, under its index
        ws = await s.ws_connect(f"{url}/p2p/stream", headers={PEER_HEADER: preamble(v1, cid, TOPIC_STREAM, 0)})
        await ws.send_bytes(seal(v1, cid, TOPIC_CONSENSUS, [b"c1"]))
        await ws.send_bytes(seal(v1, cid, TOPIC_TXS, [b"t1"]))
        await _until(lambda: len(sink.txs) == 2)
        assert sink.consensus == [(1, (b"c1",))] and sink.txs[1] == (v1.ed25519_public, (b"t1",))
        await ws.close()


async def test_a_newer_stream_of_the_same_member_supersedes_the_older(net: Any, node: Any) -> None:
    """One stream per member: a reconnect (the old connection half dead after a network
    break) replaces it, and a member cannot hold many streams open."""
    g, cid, keys = net
    url, sink = node
    v1 = keys[1]
    async with aiohttp.ClientSession() as s:
        first = await s.ws_connect(f"{url}/p2p/stream", headers={PEER_HEADER: preamble(v1, cid, TOPIC_STREAM, 0)})
        second = await s.ws_connect(f"{url}/p2p/stream", headers={PEER_HEADER: preamble(v1, cid, TOPIC_STREAM, 0)})
        msg = await first.receive(timeout=5)
        assert msg.type == WSMsgType.CLOSE and msg.data == WSCloseCode.POLICY_VIOLATION
        await second.send_bytes(seal(v1, cid, TOPIC_CONSENSUS, [b"c"]))
        await _until(lambda: bool(sink.consensus))
        assert sink.consensus == [(1, (b"c",))]
        await first.close()
        await second.close()


async def test_link_streams_and_reconnects_after_the_peer_restarts(net: Any) -> None:
    g, cid, keys = net
    v1 = keys[1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def start() -> tuple[web.AppRunner, Sink]:
        sink = Sink()
        app = web.Application()
        add_routes(app, sink, g, cid)
        return await _serve(app, port), sink

    runner, sink = await start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        link = PeerLink(url, session, lambda t, p: seal(v1, cid, t, p), 100, Metrics(), "v0",
                        lambda t, n: preamble(v1, cid, t, n))
        link.start()
        try:
            for i in range(3):
                link.send(TOPIC_CONSENSUS, b"m%d" % i)
            link.send(TOPIC_TXS, b"tx")
            await _until(lambda: sum(len(p) for _, p in sink.consensus) == 3 and bool(sink.txs))
            assert [m for _, p in sink.consensus for m in p] == [b"m0", b"m1", b"m2"]
            assert sink.txs == [(v1.ed25519_public, (b"tx",))]
            assert link.streaming and link.connected
            await _until(lambda: link.queued() == 0)  # acknowledged, so never written again
            assert link.queued() == 0
            # the peer restarts: its stream is closed; the link opens a new one
            await runner.cleanup()
            await _until(lambda: not link.streaming)
            assert not link.streaming
            runner, sink = await start()
            link.send(TOPIC_CONSENSUS, b"after")
            await _until(lambda: bool(sink.consensus), tries=400)
            assert sink.consensus == [(1, (b"after",))] and link.streaming
        finally:
            await link.stop()
            await runner.cleanup()


async def test_a_peer_without_the_stream_gets_posts_announced_when_large(net: Any) -> None:
    """An older release answers the upgrade 404: the link sends POSTs, and announces (a
    signature at each end) only a body the peer would not read without it."""
    g, cid, keys = net
    sink = Sink()
    seen: list[tuple[str, str | None]] = []

    @web.middleware
    async def older_release(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append((request.path, request.headers.get(PEER_HEADER)))
        if request.path == "/p2p/stream":
            raise web.HTTPNotFound()
        return await handler(request)

    app = web.Application(middlewares=[older_release])
    add_routes(app, sink, g, cid)
    port = free_port()
    runner = await _serve(app, port)
    try:
        async with aiohttp.ClientSession() as session:
            link = PeerLink(f"http://127.0.0.1:{port}", session, lambda t, p: seal(keys[1], cid, t, p),
                            100, Metrics(), "v1", lambda t, n: preamble(keys[1], cid, t, n))
            link.start()
            link.send(TOPIC_TXS, b"small")
            await _until(lambda: bool(sink.txs))
            big = b"x" * (UNAUTH_PEER_BYTES + 1)
            link.send(TOPIC_TXS, big)
            await _until(lambda: len(sink.txs) == 2)
            assert not link.streaming
            await link.stop()
        assert [p for _, p in sink.txs] == [(b"small",), (big,)]
        # one upgrade tried, then POSTs: the small one bare, the large one announced
        assert [p for p, _ in seen] == ["/p2p/stream", "/p2p/txs", "/p2p/txs"]
        assert seen[1][1] is None and (seen[2][1] or "").startswith(keys[1].ed25519_public.hex())
    finally:
        await runner.cleanup()


async def test_frames_not_acknowledged_are_written_again_on_the_next_stream(net: Any) -> None:
    """A frame written is not a frame received. A peer that reads two frames and drops
    the connection without acknowledging them (killed, or a network break) gets them again,
    in order and before anything newer, on the link's next stream; what the peer
    acknowledges is forgotten, and what it never does is bounded by the link's queue."""
    g, cid, keys = net
    v1 = keys[1]
    got: list[list[bytes]] = [[], []]
    acks = [False, True]

    async def stream(request: web.Request) -> web.StreamResponse:
        i = min(len(conns), 1)
        conns.append(i)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            env = open_stream_frame(g, cid, msg.data, v1.ed25519_public)
            got[i] += list(env.payloads)
            if acks[i]:
                await ws.send_bytes(stream_ack(len([m for m in got[i]])))
            elif len(got[i]) == 2:
                await ws.close()
        return ws

    conns: list[int] = []
    app = web.Application()
    app.router.add_get("/p2p/stream", stream)
    port = free_port()
    runner = await _serve(app, port)
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        link = PeerLink(f"http://127.0.0.1:{port}", session, lambda t, p: seal(v1, cid, t, p), 100,
                        metrics, "v0", lambda t, n: preamble(v1, cid, t, n))
        link.start()
        try:
            link.send(TOPIC_CONSENSUS, b"m0")
            await _until(lambda: len(got[0]) == 1)
            link.send(TOPIC_CONSENSUS, b"m1")
            await _until(lambda: len(conns) == 2 and got[1] == [b"m0", b"m1"])
            link.send(TOPIC_CONSENSUS, b"m2")
            await _until(lambda: got[1] == [b"m0", b"m1", b"m2"] and link.queued() == 0)
            assert got == [[b"m0", b"m1"], [b"m0", b"m1", b"m2"]] and link.queued() == 0
        finally:
            await link.stop()
    # a peer that never acknowledges: the link keeps at most its queue's bound
    acks[1] = False
    got[1] = []
    async with aiohttp.ClientSession() as session:
        link = PeerLink(f"http://127.0.0.1:{port}", session, lambda t, p: seal(v1, cid, t, p), 3,
                        metrics, "v9", lambda t, n: preamble(v1, cid, t, n))
        link.start()
        try:
            for i in range(8):
                link.send(TOPIC_TXS, b"t%d" % i)
                await asyncio.sleep(0.02)
            await _until(lambda: len(got[1]) >= 2)
            assert link.queued() <= 3 + 1
            assert metrics.peer_dropped.labels(peer="v9")._value.get() >= 4
        finally:
            await link.stop()
            await runner.cleanup()


def test_a_broadcast_is_sealed_once_and_the_seal_is_the_same(net: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three links drain the same broadcast message: the envelope is signed once, and is
    byte for byte what sealing it afresh gives (Ed25519 is deterministic); a different
    batch is sealed anew; at most ``SEALED_KEPT`` are kept."""
    import node.network as network

    g, cid, keys = net
    calls: list[tuple[str, tuple[bytes, ...]]] = []

    def counting(k: KeyPair, c: bytes, topic: str, payloads: Any) -> bytes:
        calls.append((topic, tuple(payloads)))
        return seal(k, c, topic, payloads)

    monkeypatch.setattr(network, "seal", counting)
    pn = network.PeerNetwork.__new__(network.PeerNetwork)  # (only what _seal reads)
    pn.keys, pn.chain_id, pn._sealed = keys[1], cid, {}
    msg = b"prepare"
    bodies = [pn._seal(TOPIC_CONSENSUS, [msg]) for _ in range(3)]
    assert len(calls) == 1 and bodies == [seal(keys[1], cid, TOPIC_CONSENSUS, [msg])] * 3
    assert pn._seal(TOPIC_TXS, [msg]) != bodies[0] and len(calls) == 2
    for i in range(40):
        pn._seal(TOPIC_TXS, [b"%d" % i])
    assert len(pn._sealed) == network.SEALED_KEPT


async def test_a_good_header_without_an_upgrade_is_refused_with_a_code(net: Any) -> None:
    """On the node's own application (its error middleware): a member's valid header on a
    plain GET (no WebSocket upgrade) is a 400 with a code, never a 500."""
    from node.http_errors import error_middleware

    g, cid, keys = net
    app = web.Application(middlewares=[error_middleware])
    add_routes(app, Sink(), g, cid)
    port = free_port()
    runner = await _serve(app, port)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/p2p/stream",
                             headers={PEER_HEADER: preamble(keys[1], cid, TOPIC_STREAM, 0)}) as r:
                assert r.status == 400
                assert (await r.json())["error"] == "API_BAD_REQUEST"
    finally:
        await runner.cleanup()


async def test_a_frame_acknowledged_while_its_write_waited_is_not_sent_again() -> None:
    """The peer may handle and acknowledge a frame while the write still waits to drain,
    and the connection break just after: the frame counts as delivered (not queued again),
    and nothing else is taken off the frames still waiting for their acknowledgement."""
    sent: list[bytes] = []

    class Stream:
        closed = False

        async def send_bytes(self, data: bytes) -> None:
            sent.append(data)
            link._acknowledged(len(sent))  # the peer handled all so far
            raise ConnectionResetError("broke after the peer read it")

        async def close(self) -> None:
            self.closed = True

    async with aiohttp.ClientSession() as session:
        link = PeerLink("http://127.0.0.1:1", session, lambda t, p: b"|".join(p), 100, Metrics(), "v",
                        lambda t, n: "header")
        link._ws = Stream()  # type: ignore[assignment]
        assert await link._deliver(TOPIC_TXS, [b"a"]) is True
        assert link.queued() == 0 and sent == [b"a"] and not link.streaming
