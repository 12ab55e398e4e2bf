"""Helpers for the multi-process tests: a localnet under test, waiting, chain comparison."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genesis.document import ConsensusParams
from genesis.localnet import DEFAULT_PARAMS
from harness.txgen import NetKeys, create_elections, post_tx
from node import localnet as ln
from node.homes import make_network
from tests.node.tlsca import make_ca_and_cert

BACK_AT_TIP_S = 20.0
PARAMS = dataclasses.replace(
    DEFAULT_PARAMS, max_block_txs=200, block_interval_ms=100, view_timeout_ms=1000, checkpoint_interval=5
)


class Net:
    def __init__(
        self,
        root: Path,
        tls: bool = False,
        params: ConsensusParams = PARAMS,
        genesis_time_ms: int | None = None,
    ) -> None:
        base = ln.free_base_port(5)
        make_network(root, "nettest", 4, 1, base, params=params, genesis_time_ms=genesis_time_ms)
        if tls:
            ca, cert, key = make_ca_and_cert(root / "tls")
            for cfg in root.glob("*-*/config.toml"):
                text = cfg.read_text()
                for name, path in (("tls_cert", cert), ("tls_key", key), ("tls_ca", ca)):
                    text = text.replace(f'# {name} = "tls/', f'{name} = "{path}" # "tls/')
                cfg.write_text(text)
        self.root = root
        self.keys = NetKeys(root)
        self.nodes = ln.discover(root)
        self.validators = self.nodes[:4]
        self.observer = self.nodes[4]
        self.batch = 0

    def txs(self, n: int) -> list[bytes]:
        self.batch += 1
        return create_elections(self.keys, n, tag=f"b{self.batch}")

    def get(self, node: ln.LocalNode, path: str) -> Any:
        return ln.get_json(f"{node.url}{path}", 5.0, node.ssl_context())

    def status(self, node: ln.LocalNode) -> dict[str, Any] | None:
        return ln.status(node, timeout=2.0)

    def heights(self, nodes: list[ln.LocalNode] | None = None) -> dict[str, int | None]:
        out = {}
        for n in nodes or self.nodes:
            s = self.status(n)
            out[n.name] = None if s is None else int(s["height"])
        return out

    def primary(self) -> ln.LocalNode:
        views = [s["view"] for s in map(self.status, self.validators) if s and s["view_active"]]
        view = max(set(views), key=views.count)
        return self.validators[view % 4]


def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def submit(
    net: Net, txs: list[bytes], nodes: list[ln.LocalNode], wait: bool, threads: int = 8
) -> list[tuple[int, Any]]:
    """Post each tx to a node in turn (in ``threads`` parallel threads); returns the answers."""
    with ThreadPoolExecutor(threads) as pool:
        futs = [pool.submit(post_tx, nodes[i % len(nodes)].url, tx, wait, 30.0,
                            nodes[i % len(nodes)].ssl_context())
                for i, tx in enumerate(txs)]
        return [f.result() for f in futs]


def block_bytes(node: ln.LocalNode, h: int) -> bytes:
    doc = ln.get_json(f"{node.url}/v1/blocks/{h}", 5.0, node.ssl_context())
    return bytes.fromhex(doc["block_bytes"])


def assert_same_chain(net: Net, nodes: list[ln.LocalNode] | None = None) -> int:
    """All nodes at one height with byte-identical blocks at every height; returns it."""
    nodes = nodes or net.nodes

    def converged() -> bool:
        hs = set(net.heights(nodes).values())
        return len(hs) == 1 and None not in hs

    wait_until(converged, BACK_AT_TIP_S, f"one common height, have {net.heights(nodes)}")
    height = int(next(iter(net.heights(nodes).values())) or 0)
    for h in range(1, height + 1):
        first = block_bytes(nodes[0], h)
        for n in nodes[1:]:
            assert block_bytes(n, h) == first, f"{n.name} differs from {nodes[0].name} at {h}"
    return height


def back_at_tip(net: Net, node: ln.LocalNode, healthy: list[ln.LocalNode]) -> float:
    """Seconds until ``node`` reaches the healthy nodes' tip; checks status honesty meanwhile."""
    tip = max(h for h in net.heights(healthy).values() if h is not None)

    def caught_up() -> bool:
        s = net.status(node)
        if s is None:
            return False
        if s["height"] < tip - 1:
            # a lagging node must not report itself current (once it has heard its peers)
            assert s["catching_up"] or s["peer_height"] < tip, s
        return bool(s["height"] >= tip)

    return wait_until(caught_up, BACK_AT_TIP_S, f"{node.name} back at tip {tip}")


def committed_everywhere(net: Net, acks: list[tuple[int, Any]]) -> None:
    """Every transaction acknowledged as committed is in every node's chain."""
    for status, doc in acks:
        if status == 200 and doc.get("status") == "committed":
            for n in net.nodes:
                t = net.get(n, f"/v1/txs/{doc['tracking_code']}")
                assert t["status"] == "committed" and t["height"] == doc["height"]


@contextmanager
def running(root: Path, tls: bool = False) -> Iterator[Net]:
    """A started network; every process is stopped (SIGCONT, SIGTERM, SIGKILL) on exit."""
    n = Net(root, tls)
    try:
        for node in n.nodes:
            ln.start(node)
        ln.wait_ready(n.nodes, timeout=60)
        yield n
    finally:
        for node in n.nodes:
            pid = node.pid()
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            ln.stop(node, timeout=5)
