"""Issue 12, item 6: a transaction answered 202 is never silently forgotten.

A backup validator is cut off from its peers (the three others paused with
SIGSTOP) while clients keep submitting to it. Its peer queues are small here
(``peer_queue_max = 20``), so the first forwards overflow them, as 1,500 ballots
overflowed the default queues in the issue. After the heal every acknowledged
transaction must commit (re-forwarding), also across a kill -9 of the backup
(the durable pool), and one whose expiry passed meanwhile must be reported
``expired`` by ``GET /v1/txs/{hash}``, never left ``pending`` or unknown.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ballot_tx.codec import encode
from ballot_tx.tx import CreateElection, sign_tx
from harness.scenario import demo_manifest
from node import localnet as ln
from tests.node.netutil import Net, assert_same_chain, submit, wait_until

QUEUE = 20


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    n = Net(tmp_path_factory.mktemp("faultfwd") / "net")
    for node in n.nodes:
        cfg = node.home / "config.toml"
        cfg.write_text(cfg.read_text().replace(
            "[limits]\n", f"[limits]\npeer_queue_max = {QUEUE}\ncommit_wait_s = 4\n"))
    try:
        for node in n.nodes:
            ln.start(node)
        ln.wait_ready(n.nodes, 60)
        yield n
    finally:
        for node in n.nodes:
            ln.stop(node, timeout=5)


@contextmanager
def cut_off(net: Net, backup: ln.LocalNode) -> Iterator[None]:
    """Every other validator paused: ``backup`` can take clients but reach no peer."""
    pids = [p for p in (v.pid() for v in net.validators if v is not backup) if p is not None]
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)


def _backup(net: Net) -> ln.LocalNode:
    primary = net.primary()
    return next(v for v in net.validators if v is not primary)


def _status_of(net: Net, node: ln.LocalNode, code: str) -> str:
    try:
        return str(net.get(node, f"/v1/txs/{code}")["status"])
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return "unknown"  # an observer has not seen a pending transaction
        raise


def _all_committed(net: Net, node: ln.LocalNode, codes: list[str], timeout: float) -> None:
    wait_until(lambda: all(_status_of(net, node, c) == "committed" for c in codes), timeout,
               f"all {len(codes)} acknowledged transactions committed, have "
               f"{sum(_status_of(net, node, c) == 'committed' for c in codes)}")


def test_acknowledged_while_cut_off_all_commit_after_the_heal(net: Net) -> None:
    backup = _backup(net)
    with cut_off(net, backup):
        acks = submit(net, net.txs(6 * QUEUE), [backup], wait=False)
        assert all(s == 202 for s, _ in acks), acks
        codes = [d["tracking_code"] for _, d in acks]
        assert {_status_of(net, backup, c) for c in codes} == {"pending"}
        time.sleep(3)
    _all_committed(net, backup, codes, 60)
    for n in net.nodes:  # committed everywhere, not just reported
        wait_until(lambda n=n: all(_status_of(net, n, c) == "committed" for c in codes), 20, n.name)
    assert_same_chain(net)


def test_commit_waits_that_timed_out_under_two_paused_validators_still_commit(net: Net) -> None:
    live = net.validators[:2]
    paused = [p for p in (v.pid() for v in net.validators[2:]) if p is not None]
    for p in paused:
        os.kill(p, signal.SIGSTOP)
    try:
        # one thread per request: each waits commit_wait_s, all at once (not in 8s)
        acks = submit(net, net.txs(4 * QUEUE), live, wait=True, threads=4 * QUEUE)
    finally:
        for p in paused:
            os.kill(p, signal.SIGCONT)
    timeouts = [d for s, d in acks if s == 408]
    assert timeouts and all(d["error"] == "API_COMMIT_TIMEOUT" for d in timeouts), acks
    codes = [d["message"].split()[1] for d in timeouts] + [d["tracking_code"] for s, d in acks if s == 200]
    assert len(codes) == len(acks)
    _all_committed(net, net.observer, codes, 60)
    assert_same_chain(net)


def test_acknowledged_then_killed_backup_keeps_them_across_restart(net: Net) -> None:
    backup = _backup(net)
    with cut_off(net, backup):
        acks = submit(net, net.txs(2 * QUEUE), [backup], wait=False)
        assert all(s == 202 for s, _ in acks), acks
        codes = [d["tracking_code"] for _, d in acks]
        ln.kill9(backup)
        ln.start(backup)
        ln.wait_ready([backup], 30)
        assert {_status_of(net, backup, c) for c in codes} == {"pending"}
    _all_committed(net, backup, codes, 60)
    text = backup.log_file.read_text()
    assert f"restored pending transactions kept={len(codes)}" in text
    assert_same_chain(net)


def test_expired_while_cut_off_is_reported_expired(net: Net) -> None:
    backup = _backup(net)
    now = int(time.time() * 1000)
    short = [encode(sign_tx(net.keys.admin, net.keys.chain_id,
                            CreateElection(demo_manifest(net.keys.trustees, now, now + 86_400_000,
                                                         rating=False, name=f"short-{i}")),
                            now + 4000)) for i in range(3)]
    with cut_off(net, backup):
        acks = submit(net, short, [backup], wait=False)
        assert all(s == 202 for s, _ in acks), acks
        codes = [d["tracking_code"] for _, d in acks]
        doc = net.get(backup, f"/v1/txs/{codes[0]}")
        assert doc["status"] == "pending" and doc["expires_ms"] == now + 4000
        time.sleep(6)
    more = submit(net, net.txs(3), net.validators, wait=True)  # moves the tip: the sweep re-checks
    assert all(s == 200 for s, _ in more), more

    def reported() -> bool:
        return all(_status_of(net, backup, c) == "expired" for c in codes)

    wait_until(reported, 30, "expired transactions reported expired")
    doc = net.get(backup, f"/v1/txs/{codes[0]}")
    assert doc["error"] == "TX_EXPIRED" and "expired" in doc["message"], doc
    # ... and still after a crash and restart of the node that acknowledged them
    ln.kill9(backup)
    ln.start(backup)
    ln.wait_ready([backup], 30)
    assert all(_status_of(net, backup, c) == "expired" for c in codes)
    assert_same_chain(net)
