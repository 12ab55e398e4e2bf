"""Issue 12, item 9: the observer keeps up while one validator silently drops traffic.

validator-0 is paused (SIGSTOP): its kernel still accepts connections, nothing is
ever answered, so every request to it hangs, the way a silently dropping link
behaves. It comes first in the observer's peer list. The observer must still
follow the chain within a couple of seconds of each commit (it stalled 7-10 s
before: the tip poller waited for every peer, and fetches started with it).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.node.netutil import Net, assert_same_chain, running, submit

MAX_LAG_S = 3.0


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with running(tmp_path_factory.mktemp("faultobs") / "net") as n:
        yield n


def _observer_lag(net: Net, height: int) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        s = net.status(net.observer)
        if s is not None and s["height"] >= height:
            return time.monotonic() - t0
        time.sleep(0.05)
    return float("inf")


def test_observer_follows_while_a_validator_silently_drops_traffic(net: Net) -> None:
    first = net.validators[0]
    s = net.status(net.observer)
    assert s is not None and s["peers"][0]["name"] == "validator-0"  # the silent one is first
    others = net.validators[1:]
    pid = first.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        lags = []
        for _ in range(6):
            acks = submit(net, net.txs(2), others, wait=True)
            assert all(st == 200 for st, _ in acks), acks
            lags.append(_observer_lag(net, max(d["height"] for _, d in acks)))
            time.sleep(0.5)
        st = net.status(net.observer)
        assert st is not None
        assert not next(p for p in st["peers"] if p["name"] == "validator-0")["reachable"]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert max(lags) < MAX_LAG_S, lags
    assert_same_chain(net)
