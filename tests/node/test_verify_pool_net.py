"""The verification pool inside real node processes on a 4+1 loopback localnet.

Validator 0 verifies on one worker process, validator 1 inline (``verify_workers = 0``):
the same ballots get the same answers from both, a ballot with broken proofs is
refused with the same code and message, and killing validator 0's worker neither
stops the node nor refuses the next ballot (it is verified inline, then a new worker
takes over). Every process is stopped at the end.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.codec import encode, hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.keys import KeyPair
from ballot_tx.tx import CastBallot
from harness import procstat
from harness.scenario import demo_manifest
from harness.txgen import election_setup, post_tx
from node import localnet as ln
from tests.node.netutil import Net, wait_until


def _children(pid: int) -> list[int]:
    """The node's verification workers (spawned children; not multiprocessing's resource
    tracker, which ``spawn`` also starts)."""
    out = []
    for child in procstat.children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    out.append(child)
        except OSError:
            continue
    return out


def _set_workers(node: ln.LocalNode, n: int) -> None:
    cfg = node.home / "config.toml"
    cfg.write_text(cfg.read_text().replace("[limits]\n", f"[limits]\nverify_workers = {n}\n"))


@dataclasses.dataclass
class Env:
    net: Net
    eid: bytes
    joint: bytes
    voters: list[KeyPair]
    m: Any


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root: Path = tmp_path_factory.mktemp("vpnet") / "net"
    net = Net(root)
    _set_workers(net.validators[0], 1)
    for node in net.nodes[1:]:
        _set_workers(node, 0)
    try:
        for node in net.nodes:
            ln.start(node)
        ln.wait_ready(net.nodes, timeout=60)
        now = int(time.time() * 1000)
        m = demo_manifest(net.keys.trustees, now, now + 86_400_000, rating=False, name="vp")
        voters = [KeyPair.from_seed(hash_bytes("vp-voter", i.to_bytes(4, "big"))) for i in range(8)]

        def run(txs: list[bytes]) -> None:
            for status, doc in [post_tx(net.validators[1].url, t, True, 30.0) for t in txs]:
                assert status == 200, doc
            top = max(h for h in net.heights(net.validators).values() if h is not None)
            wait_until(lambda: all((h or 0) >= top for h in net.heights(net.validators).values()), 20, "block")

        eid = election_setup(net.keys, m, voters, run)
        joint = bytes.fromhex(net.get(net.validators[0], f"/v1/elections/{eid.hex()}")["status"]["joint_key"])
        yield Env(net, eid, joint, voters, m)
    finally:
        for node in net.nodes:
            pid = node.pid()
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            ln.stop(node, timeout=5)


def cast(env: Env, i: int, broken: bool = False) -> bytes:
    v = env.voters[i]
    b, _ = ballot_crypto.encrypt_ballot(env.m, env.joint, v.ed25519_public, ((1, 0, 0),))
    if broken:  # ciphertexts swapped after the proofs were made
        c0 = b.contests[0]
        cts = (c0.ciphertexts[1], c0.ciphertexts[0], *c0.ciphertexts[2:])
        b = dataclasses.replace(b, contests=(dataclasses.replace(c0, ciphertexts=cts),))
    return encode(env.net.keys.sign(v, CastBallot(env.eid, b)))


def test_a_broken_ballot_gets_the_same_answer_from_the_pool_and_inline(env: Env) -> None:
    pooled, inline = env.net.validators[0], env.net.validators[1]
    assert len(_children(pooled.pid() or 0)) == 1 and _children(inline.pid() or 0) == []
    raw = cast(env, 0, broken=True)
    a = post_tx(pooled.url, raw)
    b = post_tx(inline.url, raw)
    assert a[0] == b[0] == 400 and a[1] == b[1] and a[1]["error"] == "TX_BAD_BALLOT", (a, b)
    ok = post_tx(pooled.url, cast(env, 1), True)
    assert ok[0] == 200 and ok[1]["status"] == "committed", ok


def test_a_killed_worker_does_not_stop_the_node(env: Env) -> None:
    node = env.net.validators[0]
    pid = node.pid()
    assert pid is not None
    (worker,) = _children(pid)
    os.kill(worker, signal.SIGKILL)
    time.sleep(0.3)
    status, doc = post_tx(node.url, cast(env, 2), True)
    assert status == 200 and doc["status"] == "committed", doc
    assert node.pid() == pid and env.net.status(node) is not None
    wait_until(lambda: len([c for c in _children(pid) if c != worker]) == 1, 10, "a new worker")
    status, doc = post_tx(node.url, cast(env, 3), True)  # verified by the new worker
    assert status == 200, doc
    assert "verification worker failed; verifying inline" in node.log_file.read_text()
