"""Issue 12, items 4 and 5, on a real 4+1 localnet: oversized bodies and idle-connection floods.

validator-0 runs with a file limit of 512 (set in the child before exec) and
short idle/body timeouts, as an attacked node would; the tests flood it the way
the issue did and check it keeps serving, refuses with the right code before
reading, and keeps its log small.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballot_tx.codec import pack
from node import localnet as ln
from tests.node.netutil import Net, assert_same_chain, submit, wait_until

NOFILE = 512
IDLE_S = 3
BODY_S = 3


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    n = Net(tmp_path_factory.mktemp("faulthttp") / "net")
    cfg = n.validators[0].home / "config.toml"
    cfg.write_text(cfg.read_text().replace(
        "[limits]\n", f"[limits]\nidle_timeout_s = {IDLE_S}\nbody_timeout_s = {BODY_S}\n"))
    try:
        for node in n.nodes:
            ln.start(node, preexec=_limit_files if node is n.validators[0] else None)
        ln.wait_ready(n.nodes, timeout=60)
        yield n
    finally:
        for node in n.nodes:
            ln.stop(node, timeout=5)


def _hostport(node: ln.LocalNode) -> tuple[str, int]:
    host, port = node.url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _head(path: str, length: int | None, extra: str = "", ctype: str = "application/msgpack") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict[str, str]]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.decode().partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, json.loads(body) if body else {}


@pytest.mark.parametrize("path,limit", [("/v1/txs", 1 << 20), ("/p2p/consensus", 64 << 10),
                                        ("/p2p/txs", 64 << 10)])
def test_declared_oversize_body_is_refused_before_it_is_sent(net: Net, path: str, limit: int) -> None:
    """413 from the Content-Length alone: the node answers although no body byte was sent."""
    with socket.create_connection(_hostport(net.validators[0])) as s:
        s.sendall(_head(path, 60 << 20))
        status, doc = _answer(s)
    assert status == 413 and doc["error"] == "API_TOO_LARGE", doc
    assert str(limit) in doc["message"]
    # just over the client limit is refused too (the old app-wide limit was 64 MiB)
    with socket.create_connection(_hostport(net.validators[0])) as s:
        s.sendall(_head(path, limit + 1))
        assert _answer(s)[0] == 413


def test_streamed_oversize_bodies_are_cut_off_without_memory_growth(net: Net) -> None:
    """Eight concurrent chunked 60 MiB bodies on each route: cut at the limit, RSS flat."""
    v0 = net.validators[0]
    pid = v0.pid()
    assert pid is not None
    before = _rss_kib(pid)

    async def stream(path: str) -> int:
        host, port = _hostport(v0)
        r, w = await asyncio.open_connection(host, port)
        w.write(_head(path, None))
        chunk = b"\x93" * (256 << 10)
        sent = 0
        try:
            while sent < 60 << 20:
                w.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await w.drain()
                sent += len(chunk)
        except (ConnectionError, OSError):
            pass
        try:
            line = await asyncio.wait_for(r.readline(), 5)
        except (ConnectionError, OSError, TimeoutError):
            line = b""
        w.close()
        assert sent < 8 << 20, f"{sent} bytes were taken on {path}"
        return int(line.split()[1]) if line else -1

    async def all_() -> list[int]:
        return await asyncio.gather(*(stream(p) for p in ("/v1/txs", "/p2p/consensus") for _ in range(8)))

    statuses = asyncio.run(all_())
    # the node answers 413 and closes; the reset of the unread rest may hide the answer
    assert all(s in (413, -1) for s in statuses), statuses
    grown = _rss_kib(pid) - before
    assert grown < 40 << 10, f"RSS grew by {grown} KiB"


def test_peer_header_forgery_is_refused_before_the_body(net: Net) -> None:
    """A large body announced with a forged or stranger's X-Ballotchain-Peer: 403 at once."""
    from ballot_tx.keys import KeyPair
    from node.peer_envelope import preamble

    v0 = net.validators[0]
    stranger = KeyPair.generate()
    good_len = 10 << 20
    cases = [
        (preamble(stranger, net.keys.chain_id, "consensus", good_len), 403, "NODE_NOT_VALIDATOR"),
        ("zz:1:00", 400, "NODE_BAD_PEER_MESSAGE"),
        (net.keys.genesis.validators[1].ed25519_public.hex() + f":{int(time.time() * 1000)}:" + "00" * 64,
         400, "NODE_BAD_PEER_MESSAGE"),
    ]
    for header, status, code in cases:
        with socket.create_connection(_hostport(v0)) as s:
            s.sendall(_head("/p2p/consensus", good_len, f"X-Ballotchain-Peer: {header}"))
            got, doc = _answer(s)
        assert (got, doc["error"]) == (status, code), (header, doc)
    # an observer's key may announce on /p2p/txs but not on /p2p/consensus
    from ballot_tx.keys import load_key_file

    obs = load_key_file((net.observer.home / "node.key").read_text())
    with socket.create_connection(_hostport(v0)) as s:
        s.sendall(_head("/p2p/consensus", good_len,
                        f"X-Ballotchain-Peer: {preamble(obs, net.keys.chain_id, 'consensus', good_len)}"))
        assert _answer(s)[0] == 403
    # a valid header is bound to its length: announcing 10 MiB and sending 11 fails its check
    val = load_key_file((net.validators[1].home / "node.key").read_text())
    with socket.create_connection(_hostport(v0)) as s:
        s.sendall(_head("/p2p/consensus", good_len + 1,
                        f"X-Ballotchain-Peer: {preamble(val, net.keys.chain_id, 'consensus', good_len)}"))
        assert _answer(s)[0] == 400
    # and a genuine announcement of a 200 KiB junk body is read, then judged on its envelope
    body = pack([b"\x01" * 32, "consensus", [b"x" * (200 << 10)], b"\x02" * 64])
    with socket.create_connection(_hostport(v0)) as s:
        s.sendall(_head("/p2p/consensus", len(body),
                        f"X-Ballotchain-Peer: {preamble(val, net.keys.chain_id, 'consensus', len(body))}")
                  + body)
        got, doc = _answer(s)
    assert (got, doc["error"]) == (403, "NODE_NOT_VALIDATOR"), doc
    assert "genesis validator" in doc["message"]


def test_slow_headers_and_slow_body_are_timed_out(net: Net) -> None:
    v0 = net.validators[0]
    with socket.create_connection(_hostport(v0)) as s:
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")  # headers never finish
        s.settimeout(IDLE_S + 10)
        t0 = time.monotonic()
        assert s.recv(100) == b""  # closed by the node
        assert time.monotonic() - t0 < IDLE_S + 5
    with socket.create_connection(_hostport(v0)) as s:
        s.sendall(_head("/v1/txs", 1000) + b"\x93" * 10)  # body never finishes
        t0 = time.monotonic()
        status, doc = _answer(s, BODY_S + 10)
        assert (status, doc["error"]) == (408, "API_REQUEST_TIMEOUT")
        assert time.monotonic() - t0 < BODY_S + 5


def test_idle_connection_flood_under_a_low_file_limit(net: Net) -> None:
    """1,100 idle sockets against a node limited to 512 files: it keeps answering and
    committing, its log stays small, and it never runs out of descriptors."""
    v0 = net.validators[0]
    pid = v0.pid()
    assert pid is not None
    log_before = v0.log_file.stat().st_size
    socks: list[socket.socket] = []
    try:
        for _ in range(1100):
            try:
                socks.append(socket.create_connection(_hostport(v0), timeout=2))
            except OSError:
                pass
        t0 = time.monotonic()
        for _ in range(10):
            s = net.status(v0)
            assert s is not None and s["node_id"]
        assert time.monotonic() - t0 < 10
        n_fds = len(os.listdir(f"/proc/{pid}/fd"))
        assert n_fds < NOFILE - 64, n_fds
        acks = submit(net, net.txs(10), [v0], wait=True)
        assert all(st == 200 for st, _ in acks), acks
        # ... and keeps doing so while the flood reconnects over and over
        for _ in range(3):
            for i in range(0, len(socks), 2):
                socks[i].close()
                try:
                    socks[i] = socket.create_connection(_hostport(v0), timeout=2)
                except OSError:
                    pass
            assert net.status(v0) is not None
    finally:
        for s in socks:
            s.close()
    assert ln.pid_alive(pid)
    grown = v0.log_file.stat().st_size - log_before
    assert grown < 100_000, f"log grew by {grown} bytes"
    assert "Traceback" not in v0.log_file.read_text()
    wait_until(lambda: net.status(v0) is not None, 10, "v0 answering")
    assert_same_chain(net)


def test_fd_limit_raised_to_hard_limit_and_logged(net: Net) -> None:
    text = net.validators[1].log_file.read_text()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert f"nofile={hard}" in text
    assert f"nofile={NOFILE}" in net.validators[0].log_file.read_text()
