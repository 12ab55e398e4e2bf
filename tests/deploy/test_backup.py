"""Backups of a running node under load restore to a node that audits clean and catches up.

The backup is taken from a validator while clients keep committing, then
restored into another validator's home (its own data moved away, as after a
lost disk): the restored database passes ``audit --data``, the node starts,
reaches the tip, and the chain stays byte-identical everywhere. Damaged,
truncated, forged and foreign-chain backups, a non-empty target and a backup
request through a proxy are all refused with their codes and leave nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import msgpack
import pytest

from node import backup as bk
from node import backup_routes
from node import localnet as ln
from node.homes import make_network
from node.store_format import frame
from tests.node.netutil import assert_same_chain, back_at_tip, running, submit, wait_until

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, ok: bool = True) -> str:
    p = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert (p.returncode == 0) == ok, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    return p.stdout + p.stderr


def test_backup_under_load_restores_audits_and_catches_up(tmp_path: Path) -> None:
    with running(tmp_path / "net") as net:
        source, target = net.validators[1], net.validators[2]
        acks = submit(net, net.txs(20), net.nodes, wait=True)
        stop = threading.Event()
        load_acks: list[tuple[int, object]] = []

        def load() -> None:
            while not stop.is_set():
                load_acks.extend(submit(net, net.txs(8), [net.validators[0], net.validators[3]], True))

        t = threading.Thread(target=load)
        t.start()
        try:
            wait_until(lambda: len(load_acks) >= 8, 30, "load to commit")
            h_before = net.heights([source])[source.name] or 0
            out = cli("node", "backup", "--home", str(source.home), "--out", str(tmp_path / "v1.bak"))
            h_after = net.heights([source])[source.name] or 0
            wait_until(lambda: len(load_acks) >= 24, 30, "more load to commit")
        finally:
            stop.set()
            t.join()
        assert "backup (node running)" in out and "chain nettest" in out
        summary = bk.inspect(tmp_path / "v1.bak")
        assert h_before <= summary.header.height <= h_after
        assert summary.header.height < (net.heights([source])[source.name] or 0)  # taken mid-load
        assert f"sha256 {summary.sha256}" in out
        assert summary.sha256 == hashlib.sha256((tmp_path / "v1.bak").read_bytes()).hexdigest()
        # the node keeps no key material in its database, so none in the backup
        key_text = (source.home / "node.key").read_text()
        secret = bytes.fromhex(json.loads(key_text)["secret"])
        assert secret[:32] not in (tmp_path / "v1.bak").read_bytes()

        # through a reverse proxy (a forwarded header), the route is refused
        req = urllib.request.Request(f"{source.url}{backup_routes.ROUTE}", headers={"X-Forwarded-For": "203.0.113.9"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 403 and b"API_FORBIDDEN" in e.value.read()

        # validator-2 loses its disk; restored from validator-1's backup
        ln.stop(target, timeout=10)
        shutil.move(target.home / "data", tmp_path / "lost-data")
        out = cli("node", "restore", str(tmp_path / "v1.bak"), "--home", str(target.home))
        assert f"height {summary.header.height}" in out
        out = cli("audit", "--data", str(target.home), "--jobs", "1")
        assert "audit OK" in out and f"{summary.header.height} blocks" in out
        out = cli("node", "restore", str(tmp_path / "v1.bak"), "--home", str(target.home), ok=False)
        assert "[BACKUP_TARGET_NOT_EMPTY]" in out
        ln.start(target)
        ln.wait_ready([target], 30)
        back_at_tip(net, target, [n for n in net.nodes if n is not target])
        more = submit(net, net.txs(6), [target], wait=True)
        assert all(s == 200 for s, _ in more), more
        assert_same_chain(net)
        assert all(s == 200 for s, _ in acks + load_acks)
        # a stopped node's database is read directly
        ln.stop(net.observer, timeout=10)
        out = cli("node", "backup", "--home", str(net.observer.home), "--out", str(tmp_path / "obs.bak"))
        assert "backup (node stopped)" in out
        assert bk.inspect(tmp_path / "obs.bak").header.chain_id == net.keys.chain_id
        ln.start(net.observer)
        ln.wait_ready([net.observer], 30)
    _refusals(tmp_path, tmp_path / "v1.bak")


def _fresh_home(tmp_path: Path, name: str, src: Path) -> Path:
    home = tmp_path / name
    shutil.copytree(src, home, ignore=shutil.ignore_patterns("data", "node.pid", "node.log"))
    return home


def _refusals(tmp_path: Path, good: Path) -> None:
    home = _fresh_home(tmp_path, "blank", tmp_path / "net" / "validator-3")
    data = good.read_bytes()

    def refused(bad: bytes, code: str, target: Path = home) -> None:
        f = tmp_path / f"bad-{code}-{len(bad)}.bak"
        f.write_bytes(bad)
        out = cli("node", "restore", str(f), "--home", str(target), ok=False)
        assert f"[{code}]" in out, out
        assert not (target / "data").exists() and not (target / "data.restoring").exists()

    mid = len(data) // 2
    refused(data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:], "BACKUP_CORRUPT")  # bit flip
    refused(data[: len(data) - 40], "BACKUP_CORRUPT")  # truncated
    refused(data + b"\x00", "BACKUP_CORRUPT")  # trailing garbage
    refused(b"PK\x03\x04 not a backup", "BACKUP_CORRUPT")
    # a foreign chain: another network's home
    make_network(tmp_path / "other", "other-chain", 4, 0, base_port=23000)
    refused(data, "BACKUP_WRONG_CHAIN", tmp_path / "other" / "validator-0")
    # forged: the other chain's header (and a recomputed trailer) over this chain's records
    other_id = bytes.fromhex(cli("genesis", "verify", str(tmp_path / "other" / "genesis.json"))
                             .split("genesis hash: ")[1].split()[0])
    forged = _reheader(data, other_id, "other-chain")
    refused(forged, "BACKUP_WRONG_CHAIN", tmp_path / "other" / "validator-0")
    # a record changed with its trailer recomputed: its store frame still catches it
    refused(_tamper_record(data), "BACKUP_CORRUPT")
    # a planted consensus record (framed correctly) would restore what "this validator signed"
    objs = _objects(data)
    key = b"node/pbft/safety"
    refused(_rebuild([*objs[:-1], [key, frame(key, b"\x00" * 40)], objs[-1]]), "BACKUP_CORRUPT")


def _objects(data: bytes) -> list[object]:
    u = msgpack.Unpacker(raw=False)
    u.feed(data[len(bk.MAGIC):])
    return list(u)


def _rebuild(objs: list[object]) -> bytes:
    body = bk.MAGIC + b"".join(msgpack.packb(o, use_bin_type=True) for o in objs[:-1])
    records = len(objs) - 2
    trailer: bytes = msgpack.packb(["end", records, hashlib.sha256(body).digest()], use_bin_type=True)
    return body + trailer


def _reheader(data: bytes, chain_id: bytes, chain: str) -> bytes:
    objs = _objects(data)
    head = list(objs[0])  # type: ignore[call-overload]
    head[1], head[2] = chain_id, chain
    return _rebuild([head, *objs[1:]])


def _tamper_record(data: bytes) -> bytes:
    objs = _objects(data)
    i = next(i for i, o in enumerate(objs) if isinstance(o, list) and isinstance(o[0], bytes)
             and o[0].startswith(b"blk/"))
    rec = objs[i]
    assert isinstance(rec, list)
    key, value = bytes(rec[0]), bytes(rec[1])
    objs[i] = [key, value[:-1] + bytes([value[-1] ^ 1])]
    return _rebuild(objs)
