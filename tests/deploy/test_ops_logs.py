"""What an operator reads: one log line per event worth knowing, and figures to alert on.

A 4+1 network with JSON logs runs an election through its phases, takes a flood
of malformed transactions, loses its primary (view change, peer unreachable),
gets it back (catch-up), and is stopped. Every node's log then holds one
``block committed`` line per height with its stable fields, the rejections
aggregated into one line per code, the view change with its reason, the peer
state changes, the election's phase changes and the catch-up; ``/metrics``
shows process, build, per-peer, per-election, block and disk figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ballot_tx.keys import KeyPair
from harness.scenario import demo_manifest
from harness.txgen import election_setup, post_tx
from node import localnet as ln
from node import logs, ops
from node.metrics import Metrics
from tests.deploy.monitoring import metric_families_used
from tests.node.netutil import Net, submit, wait_until

BLOCK_FIELDS = {"height", "txs", "bytes", "since_proposal_ms", "proposer", "view"}


def events(node: ln.LocalNode) -> list[dict[str, Any]]:
    out = []
    for line in node.log_file.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def named(evs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["event"] == name]


def scrape(node: ln.LocalNode) -> dict[str, list[Any]]:
    fams: dict[str, list[Any]] = {}
    for fam in text_string_to_metric_families(ln.get_text(f"{node.url}/metrics")):
        fams[fam.name] = fam.samples
    return fams


def test_operator_logs_and_metrics_on_a_running_network(tmp_path: Path) -> None:
    root = tmp_path / "net"
    net = Net(root)
    for cfg in root.glob("*-*/config.toml"):
        cfg.write_text(cfg.read_text().replace("json = false", "json = true"))
    try:
        for n in net.nodes:
            ln.start(n)
        ln.wait_ready(net.nodes, timeout=60)
        flooded = net.observer  # never killed below: its counts reach the log

        def run(txs: list[bytes]) -> None:
            live = [n for n in net.validators if n is not victim]
            acks = submit(net, txs, live, wait=True)
            bad = [(s, d.get("error"), d.get("message")) for s, d in acks if s != 200]
            assert not bad, (victim.name, bad)
            # the next step may go to any of them: let all have this block first (a node a
            # few milliseconds behind refused the next step with TX_UNKNOWN_ELECTION)
            top = max(d["height"] for _, d in acks)
            wait_until(lambda: all((h or 0) >= top for h in net.heights(live).values()), 20,
                       f"validators at height {top}")

        victim = net.validators[0]
        now = int(time.time() * 1000)
        voters = [KeyPair.generate() for _ in range(3)]
        # open 15 s: time for its five setup steps to commit even on a loaded machine
        m = demo_manifest(net.keys.trustees, now, now + 15_000, rating=False, name="ops-log")
        eid = election_setup(net.keys, m, voters, run)
        # a flood of garbage at one node: one aggregated line per code, not 40 lines
        for _ in range(40):
            status, doc = post_tx(flooded.url, b"\x93garbage", False, 5.0)
            assert status == 400 and doc["error"] == "TX_MALFORMED"
        # the election's end time passes: a block closes it
        wait_until(lambda: net.get(flooded, f"/v1/elections/{eid.hex()}")["phase"] == "closed", 30,
                   "the election to close")
        # lose the primary: a view change by timeout; the others see it unreachable
        victim = net.primary()
        v1 = next(n for n in net.validators if n is not victim)
        view_before = (net.status(v1) or {})["view"]
        ln.kill9(victim)
        for _ in range(4):
            run(net.txs(3))
        ln.start(victim)
        wait_until(lambda: (net.status(victim) or {}).get("height") == (net.status(v1) or {})["height"], 20,
                   f"{victim.name} back at the tip")
        time.sleep(2.5)  # a tick of node/ops.py on every node sees the peer back
        fams = scrape(v1)
    finally:
        for n in net.nodes:
            ln.stop(n, timeout=10)

    height = max(int(e["height"]) for e in named(events(v1), "block committed"))
    for n in net.nodes:
        evs = events(n)
        blocks = named(evs, "block committed")
        assert sorted({b["height"] for b in blocks}) == list(range(1, height + 1)), n.name
        for b in blocks:
            assert BLOCK_FIELDS <= set(b) and b["bytes"] > 100 and b["since_proposal_ms"] >= 0
        phases = [(e["from_phase"], e["to_phase"]) for e in named(evs, "election phase")
                  if eid.hex().startswith(e["election"])]
        if n is not victim:  # the victim caught up on blocks whose phases it saw while replaying
            assert ("none", "ceremony") in phases and ("ceremony", "open") in phases
        assert phases and phases[-1][1] == "closed", (n.name, phases)
    rejected = named(events(flooded), "txs rejected")
    # one line per code per interval: 40 refusals, in one line or (on a slow machine, when
    # the posts straddle an interval's end) a few, never one line per refusal
    assert {e["code"] for e in rejected} == {"TX_MALFORMED"} and len(rejected) <= 3, rejected
    assert sum(e["count"] for e in rejected) == 40
    changes = [e for n in net.validators if n is not victim for e in named(events(n), "view change")
               if e["from_view"] >= view_before]
    assert changes and all(e["to_view"] > e["from_view"] for e in changes)
    assert {e["reason"] for e in changes} <= {"timeout", "peers", "new-view"}
    assert "timeout" in {e["reason"] for e in changes}
    v1_evs = events(v1)
    assert named(v1_evs, "view installed")[-1]["view"] > view_before
    peer_lines = [(e["peer"], e["state"]) for e in named(v1_evs, "peer state")
                  if e["peer"] == victim.name]
    assert peer_lines[-2:] == [(victim.name, "unreachable"), (victim.name, "reachable")], peer_lines
    # the victim got what it missed after its restart, by fetching or through consensus
    # (a NEW-VIEW carries prepared blocks): either way one line per block it committed
    victim_evs = events(victim)
    last_start = max(i for i, e in enumerate(victim_evs) if e["event"] == "node started")
    after = named(victim_evs[last_start:], "block committed")
    assert after and after[-1]["height"] == height
    assert victim_evs[last_start]["height"] < height
    # a catch-up that lasted long enough to be seen is logged as a pair
    started = named(victim_evs, "catch-up started")
    done = named(victim_evs, "catch-up done")
    assert len(done) in (len(started), len(started) - 1)
    for d in done:
        assert d["blocks"] >= 0 and d["seconds"] >= 0

    # --- metrics
    assert fams["process_resident_memory_bytes"][0].value > 10e6
    assert fams["process_open_fds"][0].value > 5
    info = fams["ballotchain_build_info"][0]
    assert info.labels["chain"] == "nettest" and info.labels["mode"] == "validator"
    assert info.labels["chain_id"] == net.keys.chain_id.hex() and info.labels["version"]
    peers = {s.labels["peer"]: s.value for s in fams["ballotchain_peer_height"]}
    assert set(peers) == {n.name for n in net.validators if n is not v1}
    assert all(v >= height - 2 for v in peers.values())
    lags = {s.labels["peer"]: s.value for s in fams["ballotchain_peer_lag_blocks"]}
    assert all(abs(v) <= 2 for v in lags.values())
    el = eid.hex()[:16]
    phase = {s.labels["election"]: s.value for s in fams["ballotchain_election_phase"]}
    assert phase[el] == 2  # closed
    reg = {s.labels["election"]: s.value for s in fams["ballotchain_election_registered"]}
    assert reg[el] == 3
    sizes = {s.name: s.value for s in fams["ballotchain_block_bytes"]}
    assert sizes["ballotchain_block_bytes_count"] >= 5 and sizes["ballotchain_block_bytes_sum"] > 1000
    intervals = {s.name: s.value for s in fams["ballotchain_block_interval_seconds"]}
    assert intervals["ballotchain_block_interval_seconds_count"] >= 4
    views = {s.labels["reason"]: s.value for s in fams["ballotchain_view_changes"]
             if s.name.endswith("_total")}
    assert sum(views.values()) >= 1
    assert fams["ballotchain_data_dir_bytes"][0].value > 10_000
    assert fams["ballotchain_data_fs_free_bytes"][0].value > 0
    assert fams["ballotchain_data_fs_size_bytes"][0].value >= fams["ballotchain_data_fs_free_bytes"][0].value
    # every metric the shipped alerts and dashboard query is one a node exports
    missing = metric_families_used() - set(fams)
    assert not missing, missing


def test_rejections_are_aggregated_per_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "ops.log"
    logs.setup("info", True, f)
    o = ops.Operations(Metrics())
    monkeypatch.setattr(ops, "REJECT_INTERVAL_S", 0.2)
    for _ in range(1000):
        o.rejected("TX_BAD_SIGNATURE")
    for _ in range(3):
        o.rejected("API_RATE_LIMITED")
    o.flush_rejects()  # too early: nothing yet
    assert not f.read_text()
    time.sleep(0.25)
    o.flush_rejects()
    o.flush_rejects()  # nothing new: no line
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    assert [(x["event"], x["code"], x["count"]) for x in lines] == [
        ("txs rejected", "API_RATE_LIMITED", 3), ("txs rejected", "TX_BAD_SIGNATURE", 1000)]
    assert all(x["interval_s"] >= 0.2 for x in lines)


def test_peer_and_catch_up_lines_only_on_change(tmp_path: Path) -> None:
    f = tmp_path / "ops.log"
    logs.setup("info", False, f)
    o = ops.Operations(Metrics())
    P = ops.PeerFigures
    o.peers_seen([P("validator-1", False, None)])  # not heard from yet: no line
    o.peers_seen([P("validator-1", True, 5)])
    o.peers_seen([P("validator-1", True, 6)])
    o.peers_seen([P("validator-1", False, 6)])
    o.catching_up_seen(True, 3, 40)
    o.catching_up_seen(True, 20, 40)
    o.catching_up_seen(False, 40, 40)
    lines = f.read_text().splitlines()
    assert [line.split(" ballotchain.ops ", 1)[1] for line in lines] == [
        "peer state peer=validator-1 state=reachable height=5",
        "peer state peer=validator-1 state=unreachable height=6",
        "catch-up started height=3 peer_height=40",
        "catch-up done height=40 blocks=37 seconds=0.0",
    ]


def test_election_touched_reads_the_election_of_every_kind() -> None:
    import random as _random

    from ballot_tx.codec import encode
    from ballot_tx.crypto import group
    from ballot_tx.crypto.ballot import encrypt_ballot
    from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
    from ballot_tx.manifest import election_id
    from ballot_tx.tx import CastBallot, CloseElection, CreateElection, sign_tx
    from harness.scenario import random_selections
    from harness.txgen import trustee_keys

    now = int(time.time() * 1000)
    m = demo_manifest(trustee_keys(), now, now + 10**7)
    eid, k, cid = election_id(m), KeyPair.generate(), b"\x01" * 32
    ballot, _ = encrypt_ballot(m, group.base(group.sc(5)), k.ed25519_public,
                               random_selections(m, _random.Random(1)))
    for body in (CreateElection(m), CastBallot(eid, ballot), CloseElection(eid),
                 RegisterKeys(eid, (KeyEntry(k.ed25519_public, b"\x02" * 32),))):
        assert ops.election_touched(encode(sign_tx(k, cid, body, now + 10**6))) == eid, body
    assert ops.election_touched(b"\x93garbage") is None
    assert ops.election_touched(b"") is None
