"""Issue 12, item 8: after a partition heals, the validator that was cut off is not left
alone in a higher view, so the network again survives a single kill without a stall.

A 4+1 localnet where every peer link to and from one backup validator R goes through a
TCP proxy in this test. The proxies refuse until R's view timer has put it in a higher,
inactive view while the three others commit on; then they forward again (the heal). The
others must move up to R's view (view sync, ``consensus.replica.view_sync.sync_target``) within a
few timeouts, and a kill -9 of another backup must then cost no view change at all: the
three survivors, R among them, still make a quorum.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.proxy import Proxy, set_peers
from node import localnet as ln
from tests.node.netutil import Net, submit, wait_until


class Proxies:
    """``harness.proxy.Proxy`` objects on one asyncio loop in a thread; ``set_cut`` refuses
    (or reopens) them all."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: list[Proxy] = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def add(self, src: int, dst: int, port: int, target: int) -> None:
        proxy = Proxy(src, dst, port, target)
        asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(5)
        self.proxies.append(proxy)

    def set_cut(self, cut: bool) -> None:
        for p in self.proxies:
            self.loop.call_soon_threadsafe(p.set, "refuse" if cut else "open")

    def close(self) -> None:
        for p in self.proxies:
            self.loop.call_soon_threadsafe(p.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture()
def lone_net(tmp_path: Path) -> Iterator[tuple[Net, int, Proxies]]:
    net = Net(tmp_path / "net")
    ids = [v.node_id for v in net.keys.genesis.validators]
    ports = [int(v.url.rsplit(":", 1)[1]) for v in net.validators]
    lone = 3  # view 0's primary is validator 0; R must be a backup
    proxies = Proxies()
    base = ln.free_base_port(6)
    k = 0
    for src, node in enumerate(net.validators):
        peers = []
        for dst in range(4):
            if dst == src:
                continue
            if lone in (src, dst):
                proxies.add(src, dst, base + k, ports[dst])
                peers.append(f'"{ids[dst]}@127.0.0.1:{base + k}"')
                k += 1
            else:
                peers.append(f'"{ids[dst]}@127.0.0.1:{ports[dst]}"')
        set_peers(node.home / "config.toml", peers)
    try:
        for node in net.nodes:
            ln.start(node)
        ln.wait_ready(net.nodes, 60)
        yield net, lone, proxies
    finally:
        for node in net.nodes:
            ln.stop(node, timeout=5)
        proxies.close()


def views(net: Net) -> list[tuple[int, bool] | None]:
    out: list[tuple[int, bool] | None] = []
    for v in net.validators:
        s = net.status(v)
        out.append(None if s is None else (int(s["view"]), bool(s["view_active"])))
    return out


def test_cut_off_validator_is_synced_and_a_later_kill_costs_no_view_change(
    lone_net: tuple[Net, int, Proxies],
) -> None:
    net, lone, proxies = lone_net
    assert all(s == 200 for s, _ in submit(net, net.txs(3), net.validators[:3], wait=True))
    others = [i for i in range(4) if i != lone]
    wait_until(lambda: len(set(views(net))) == 1, 20, "one view before the cut")
    proxies.set_cut(True)

    def alone_above() -> bool:
        vs = views(net)
        mine, rest = vs[lone], [vs[i] for i in others]
        return (mine is not None and not mine[1] and None not in rest
                and all(r is not None and r[1] and r[0] < mine[0] for r in rest))

    deadline = time.monotonic() + 15
    while not alone_above():  # the others keep committing; R's timer expires alone
        assert time.monotonic() < deadline, f"validator {lone} never alone above: {views(net)}"
        # the same work for R too: its request timer runs only while it has something to
        # commit, and after the heal the others find nothing new in what it forwards
        txs = net.txs(1)
        submit(net, txs, [net.validators[others[0]]], wait=False)
        submit(net, txs, [net.validators[lone]], wait=False)
        time.sleep(0.3)
    lone_view = views(net)[lone]
    assert lone_view is not None
    proxies.set_cut(False)

    def synced() -> bool:
        vs = views(net)
        return None not in vs and len(set(vs)) == 1 and all(v is not None and v[1] for v in vs)

    took = wait_until(synced, 20, "every validator active in one view")
    common = views(net)[0]
    assert common is not None and common[0] >= lone_view[0]  # the others moved up, R not down
    log = net.validators[others[0]].log_file.read_text()
    assert f"to_view={common[0]} reason=peers" in log
    print(f"view sync took {took:.1f} s after the heal ({views(net)})")

    primary = common[0] % 4
    victim = next(i for i in others if i != primary)
    ln.kill9(net.validators[victim])
    live = [net.validators[i] for i in range(4) if i != victim]
    t0 = time.monotonic()
    acks = submit(net, net.txs(6), live, wait=True)
    stall = time.monotonic() - t0
    assert all(s == 200 for s, _ in acks), acks
    after = [views(net)[i] for i in range(4) if i != victim]
    assert after == [common] * 3, after  # no view change: R's vote made the quorum
    print(f"6 transactions committed {stall:.1f} s after killing validator {victim}")
