"""A real multi-host deployment: every organisation on its own host, from its own keys.

Five Linux network namespaces stand for five organisations' hosts (four
validators and an observer), each with its own address in a private /24 on a
bridge; they talk HTTPS with certificates from a consortium CA made here. Each
host makes its key and genesis contribution inside its namespace; the
coordinator assembles the genesis; each host verifies its entry and pins the
hash. Then: an election is set up, a ballot is cast through one node and its
receipt checked through another; one host is cut off and healed; one node is
killed and restarted. Every node ends with byte-identical blocks, every
acknowledged commit is everywhere, and the recovery times are printed (and
recorded in docs/operations.md). Everything started is stopped and every
namespace and link removed, whatever happens; the test is skipped only where
namespaces cannot be created, with the reason.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.block import InclusionProof, verify_inclusion
from ballot_tx.codec import decode, encode
from ballot_tx.crypto.ballot import encrypt_ballot
from ballot_tx.keys import KeyPair
from ballot_tx.tx import VOTER_TX_LIFETIME_MS, CastBallot, sign_tx
from consensus.certificate import CommitCertificate, verify_certificate
from harness.scenario import demo_manifest, random_selections
from harness.txgen import NetKeys, create_elections, election_setup, post_tx
from node import localnet as ln
from node.config import render_config
from tests.conftest import skip_unless_setup_installs
from tests.deploy import netns

ROOT = Path(__file__).resolve().parents[2]
PORT = 7700
NAMES = ["validator-0", "validator-1", "validator-2", "validator-3", "observer-0"]
ORGS = ["Tsukuba City data centre", "University of Tsukuba", "Election commission",
        "Citizens' group Kenbun", "Ibaraki Shimbun newsroom"]
PARAMS = "max_block_txs = 200\nblock_interval_ms = 100\nview_timeout_ms = 1000\ncheckpoint_interval = 5\n"
RECOVERY_LIMIT_S = 20.0
PY = [sys.executable, "-m", "cli.main"]


@pytest.fixture
def hosts() -> Iterator[netns.Hosts]:
    why = netns.unavailable()
    if why is not None:
        skip_unless_setup_installs(f"multi-host namespace test: {why}")
    h = netns.Hosts(len(NAMES))
    try:
        h.create()
        yield h
    finally:
        h.cleanup()
        assert not h.leftovers(), h.leftovers()


def ok(p: Any) -> str:
    assert p.returncode == 0, p.stdout + p.stderr
    return str(p.stdout)


class Network:
    def __init__(self, hosts: netns.Hosts, root: Path) -> None:
        self.hosts, self.root = hosts, root
        self.nodes = [ln.LocalNode(n, root / n, f"https://{hosts.addr(i)}:{PORT}",
                                   ca_file=root / n / "tls" / "ca.crt") for i, n in enumerate(NAMES)]
        self.validators, self.observer = self.nodes[:4], self.nodes[4]

    def start(self, i: int) -> None:
        n = self.nodes[i]
        log = open(n.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            n.proc = subprocess.Popen(
                [netns.IP, "netns", "exec", self.hosts.ns(i), *PY, "node", "start", "--home", str(n.home)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=ROOT)
        finally:
            log.close()

    def stop_all(self) -> None:
        for n in self.nodes:
            ln.stop(n, timeout=5)

    def status(self, n: ln.LocalNode) -> dict[str, Any] | None:
        return ln.status(n, timeout=2.0)

    def heights(self, nodes: list[ln.LocalNode]) -> list[int | None]:
        return [None if (s := self.status(n)) is None else int(s["height"]) for n in nodes]

    def submit(self, txs: list[bytes], via: list[ln.LocalNode]) -> list[tuple[int, Any]]:
        with ThreadPoolExecutor(4) as pool:
            futs = [pool.submit(post_tx, via[i % len(via)].url, tx, True, 30.0,
                                via[i % len(via)].ssl_context()) for i, tx in enumerate(txs)]
            return [f.result() for f in futs]

    def get(self, n: ln.LocalNode, path: str) -> Any:
        return ln.get_json(f"{n.url}{path}", 10.0, n.ssl_context())


def wait_until(pred: Any, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def ceremony(net: Network) -> str:
    """Keys and contributions made on each host; assembled by the coordinator; verified by each."""
    hosts, root = net.hosts, net.root
    ca = netns.PrivateCA(root / "consortium-ca")

    def per_host(i: int) -> None:
        home = root / NAMES[i]
        ca.issue(home / "tls", hosts.addr(i))
        ok(hosts.run(i, *PY, "keys", "new", "--out", str(home / "node.key"), cwd=ROOT))
        role = "validator" if i < 4 else "observer"
        ok(hosts.run(i, *PY, "genesis", "contribute", "--key", str(home / "node.key"), "--role", role,
                     "--name", ORGS[i], "--address", f"https://{hosts.addr(i)}:{PORT}",
                     "--chain-id", "tsukuba-netns", "--out", str(home / "contribution.json"), cwd=ROOT))

    with ThreadPoolExecutor(len(NAMES)) as pool:
        list(pool.map(per_host, range(len(NAMES))))
    auth = root / "authorities"
    auth.mkdir()

    def host_cli(*args: str) -> str:
        return ok(subprocess.run([*PY, *args], capture_output=True, text=True, cwd=ROOT, timeout=120))

    for role in ("admin", "registrar"):
        host_cli("keys", "new", "--out", str(auth / f"{role}.key"))
        host_cli("genesis", "contribute", "--key", str(auth / f"{role}.key"), "--role", role,
                 "--name", f"Election commission ({role})", "--out", str(auth / f"{role}.json"))
    (root / "params.toml").write_text(PARAMS)
    out = host_cli("genesis", "assemble", *(str(root / n / "contribution.json") for n in NAMES),
                   str(auth / "admin.json"), str(auth / "registrar.json"), "--chain-id", "tsukuba-netns",
                   "--params", str(root / "params.toml"), "--out", str(root / "genesis.json"))
    ghash = out.split("genesis hash: ")[1].split()[0]
    validators = [f"https://{hosts.addr(i)}:{PORT}" for i in range(4)]

    def verify(i: int) -> None:
        home = root / NAMES[i]
        (home / "genesis.json").write_text((root / "genesis.json").read_text())
        out = ok(hosts.run(i, *PY, "genesis", "verify", str(home / "genesis.json"), "--expect", ghash,
                           "--key", str(home / "node.key"), "--contribution",
                           str(home / "contribution.json"), cwd=ROOT))
        assert "(matches your contribution)" in out and hosts.addr(i) in out
        mode = "validator" if i < 4 else "observer"
        peers = [v for v in validators if hosts.addr(i) not in v]
        cfg = render_config(mode, f"{hosts.addr(i)}:{PORT}", peers, ghash)
        for name in ("tls_cert", "tls_key", "tls_ca"):
            cfg = cfg.replace(f'# {name} = "tls/', f'{name} = "tls/')
        (home / "config.toml").write_text(cfg)

    with ThreadPoolExecutor(len(NAMES)) as pool:
        list(pool.map(verify, range(len(NAMES))))
    return ghash


def same_chain(net: Network) -> int:
    """All nodes at one height, byte-identical blocks at every height; returns the height."""
    wait_until(lambda: len(set(net.heights(net.nodes))) == 1 and None not in net.heights(net.nodes),
               RECOVERY_LIMIT_S, f"one common height, have {net.heights(net.nodes)}")
    height = int(net.heights(net.nodes)[0] or 0)
    for h in range(1, height + 1):
        blocks = {net.get(n, f"/v1/blocks/{h}")["block_bytes"] for n in net.nodes}
        assert len(blocks) == 1, f"fork at height {h}"
    return height


def back_at_tip(net: Network, node: ln.LocalNode, t0: float) -> float:
    others = [n for n in net.nodes if n is not node]
    tip = max(h for h in net.heights(others) if h is not None)
    wait_until(lambda: (net.heights([node])[0] or -1) >= tip, RECOVERY_LIMIT_S, f"{node.name} at {tip}")
    return time.monotonic() - t0


def test_five_hosts_in_namespaces_cut_heal_kill(
    hosts: netns.Hosts, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    root = tmp_path / "deployment"
    for name in NAMES:
        (root / name).mkdir(parents=True)
    net = Network(hosts, root)
    ghash = ceremony(net)
    ceremony_s = time.monotonic() - started
    try:
        for i in range(len(NAMES)):
            net.start(i)
        ln.wait_ready(net.nodes, timeout=60)
        ready_s = time.monotonic() - started - ceremony_s
        for n in net.nodes:  # every node serves the ceremony's chain, over TLS, at its own address
            s = net.status(n)
            assert s is not None and s["chain_id"] == ghash and s["chain"] == "tsukuba-netns"
            assert n.url.startswith(f"https://{hosts.subnet.network_address}"[:-1])
        # the backup route answers its own host only, not the operator's laptop on the LAN
        try:
            net.get(net.validators[0], "/v1/admin/backup")
            raise AssertionError("a backup was served to another host")
        except urllib.error.HTTPError as e:
            assert e.code == 403 and b"API_FORBIDDEN" in e.read()
        keys = NetKeys(root)
        acks: list[tuple[int, Any]] = []

        down: list[ln.LocalNode] = []  # the host cut off or the node killed: clients avoid it

        def run(txs: list[bytes]) -> None:
            got = net.submit(txs, [n for n in net.validators if n not in down])
            bad = [(s, d.get("error"), d.get("message")) for s, d in got if s != 200]
            assert not bad, bad
            acks.extend(got)
            # the next step may go to any validator: let each have this block first
            top = max(d["height"] for _, d in got)
            up = [n for n in net.validators if n not in down]
            wait_until(lambda: all((h or 0) >= top for h in (
                (net.status(n) or {}).get("height") for n in up)), 20, f"validators at {top}")

        # an election, a ballot through validator-1, its receipt through the observer
        now = int(time.time() * 1000)
        voter = KeyPair.generate()
        m = demo_manifest(keys.trustees, now, now + 3_600_000, rating=False, name="netns")
        eid = election_setup(keys, m, [voter], run)
        joint = bytes.fromhex(net.get(net.validators[1], f"/v1/elections/{eid.hex()}")["status"]["joint_key"])
        ballot, _ = encrypt_ballot(m, joint, voter.ed25519_public, random_selections(m, random.Random(7)))
        tx = sign_tx(voter, keys.chain_id, CastBallot(eid, ballot), int(time.time() * 1000) + VOTER_TX_LIFETIME_MS)
        v1 = net.validators[1]
        status, doc = post_tx(v1.url, encode(tx), True, 30.0, v1.ssl_context())
        assert status == 200 and doc["status"] == "committed", doc
        acks.append((status, doc))
        code = doc["tracking_code"]
        wait_until(lambda: (net.heights([net.observer])[0] or 0) >= doc["height"], 10, "observer")
        r = net.get(net.observer, f"/v1/receipts/{code}")
        proof = decode(InclusionProof, bytes.fromhex(r["inclusion_proof_bytes"]))
        verify_inclusion(proof)
        cert = decode(CommitCertificate, bytes.fromhex(r["certificate_bytes"]))
        verify_certificate(keys.genesis, keys.chain_id, cert)
        assert proof.tx_hash.hex() == code and cert.height == doc["height"]

        # cut one host off the network, keep voting, heal it
        cut = net.validators[3]
        hosts.cut(3)
        down.append(cut)
        stuck = net.heights([cut])[0]
        for batch in range(3):
            run(create_elections(keys, 4, tag=f"cut{batch}"))
        assert net.heights([cut])[0] in (None, stuck)  # it saw nothing while cut off
        t0 = time.monotonic()
        hosts.heal(3)
        heal_s = back_at_tip(net, cut, t0)
        down.clear()

        # kill the primary's process, keep voting, restart it
        views = [s["view"] for n in net.validators if (s := net.status(n)) and s["view_active"]]
        victim = net.validators[max(set(views), key=views.count) % 4]
        ln.kill9(victim)
        down.append(victim)
        for batch in range(3):
            run(create_elections(keys, 4, tag=f"kill{batch}"))
        t0 = time.monotonic()
        net.start(net.nodes.index(victim))
        kill_s = back_at_tip(net, victim, t0)

        # invariants: no fork, nothing acknowledged lost
        height = same_chain(net)
        for _, d in acks:
            for n in net.nodes:
                t = net.get(n, f"/v1/txs/{d['tracking_code']}")
                assert t["status"] == "committed" and t["height"] == d["height"]
        assert net.get(cut, f"/v1/receipts/{code}")["height"] == doc["height"]
    finally:
        net.stop_all()
    total = time.monotonic() - started
    figure = (
        f"namespace network (5 hosts, TLS, ceremony genesis): height {height}, "
        f"{len(acks)} commits acknowledged and found on every node; recovery {heal_s:.2f} s after "
        f"heal ({cut.name}), {kill_s:.2f} s after restart ({victim.name} killed, process start "
        f"included); ceremony {ceremony_s:.0f} s, start {ready_s:.0f} s, whole test {total:.0f} s")
    record_property("figure", figure)
    print(figure)
