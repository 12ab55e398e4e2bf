"""Issue 12, item 12: a corrupted database is found, logged, not voted on, and repaired.

16 bytes are flipped in the largest LevelDB table of a stopped validator (as
in the issue). ``node check --full`` must list the damage; started, the node
must log it, say so in its status, refuse transactions and stop voting (its
signature appears in no later commit certificate), and the other validators go
on. ``node resync`` then replaces the database while keeping the consensus
safety record byte for byte, and the node catches up to the same chain.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest

from node import localnet as ln
from node.integrity import SAFETY_KEY
from node.store import Store
from tests.node.netutil import Net, assert_same_chain, back_at_tip, running, submit, wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with running(tmp_path_factory.mktemp("faultcorrupt") / "net") as n:
        for _ in range(4):
            acks = submit(n, n.txs(15), n.validators, wait=True)
            assert all(s == 200 for s, _ in acks), acks
        yield n


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def _flip_largest_table(data: Path) -> Path:
    if not list(data.glob("*.ldb")):
        plyvel.DB(str(data)).close()  # recovering the log writes it to a table
    table = max(data.glob("*.ldb"), key=lambda p: p.stat().st_size)
    raw = bytearray(table.read_bytes())
    mid = len(raw) // 2
    for i in range(mid, mid + 16):
        raw[i] ^= 0xFF
    table.write_bytes(bytes(raw))
    return table


def _safety(data: Path) -> bytes | None:
    with Store(data, create=False) as s:
        return s.get_meta(SAFETY_KEY)


def _signers(net: Net, node: ln.LocalNode, height: int) -> set[int]:
    cert = net.get(node, f"/v1/blocks/{height}")["certificate"]
    return {s["validator"] for s in cert["sigs"]}


def test_corruption_is_found_logged_not_voted_on_and_repaired(net: Net) -> None:
    victim = net.validators[2] if net.primary() is not net.validators[2] else net.validators[1]
    index = net.validators.index(victim)
    others = [n for n in net.nodes if n is not victim]
    data = victim.home / "data"
    ln.stop(victim)
    record = _safety(data)
    assert record is not None
    _flip_largest_table(data)

    # the on-demand check lists the damage and says how to repair it
    r = _cli("node", "check", "--home", str(victim.home), "--full")
    assert r.returncode == 74, r
    assert "damaged:" in r.stdout and "[STORE_CORRUPT]" in r.stderr, r
    assert "node resync --home" in r.stderr

    # started, it finds and logs the damage, says so, and stops voting
    mark = victim.log_file.stat().st_size
    ln.start(victim)
    ln.wait_ready([victim], 30)
    wait_until(lambda: (net.status(victim) or {}).get("store_damaged") is not None, 20,
               "the node reporting its damaged store")
    with open(victim.log_file, "rb") as f:
        f.seek(mark)
        log = f.read().decode()
    assert "store corruption found" in log and "code=STORE_CORRUPT" in log, log
    assert "this node stops voting" in log
    status, doc = submit(net, net.txs(1), [victim], wait=False)[0]
    assert (status, doc["error"]) == (503, "NODE_STORE_DAMAGED"), doc
    before = net.heights([others[0]])[others[0].name] or 0
    for _ in range(3):
        acks = submit(net, net.txs(5), [n for n in others if n is not net.observer], wait=True)
        assert all(s == 200 for s, _ in acks), acks
    after = net.heights([others[0]])[others[0].name] or 0
    assert after > before
    for h in range(before + 1, after + 1):
        assert index not in _signers(net, others[0], h), h

    # the repair: resync keeps the safety record, then the node catches up
    r = _cli("node", "resync", "--home", str(victim.home))
    assert r.returncode != 0 and "NODE_ALREADY_RUNNING" in r.stderr, r  # not while it runs
    ln.stop(victim)
    # (what it signed is as at this stop: before the damage was found it may have
    # committed what its peers re-sent it, and the record dropped those blocks)
    record = _safety(data)
    assert record is not None
    r = _cli("node", "resync", "--home", str(victim.home))
    assert r.returncode == 0, r
    assert "consensus safety record: kept" in r.stdout, r.stdout
    assert list(victim.home.glob("data.damaged-*")), "the damaged database is kept aside"
    assert _safety(data) == record
    r = _cli("node", "check", "--home", str(victim.home), "--full")
    assert r.returncode == 0 and "full check passed" in r.stdout, r
    ln.start(victim)
    back_at_tip(net, victim, others)
    st = net.status(victim)
    assert st is not None and st["store_damaged"] is None
    acks = submit(net, net.txs(5), net.validators, wait=True)
    assert all(s == 200 for s, _ in acks), acks
    assert_same_chain(net)
