"""Issue 12, items 10 and 11: storage faults on a real 4+1 localnet.

validator-3 is restarted inside its own mount namespace (``unshare``) with its
data directory read-only, on a full tmpfs, or on a tmpfs that fills up while it
runs. It must refuse or stop with the right code and a non-zero exit status (so a
supervisor restarts it), while the other validators go on; restarted normally,
it catches up. Needs root (or user namespaces) for the mounts; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node import localnet as ln
from tests.conftest import skip_unless_setup_installs
from tests.node.netutil import Net, assert_same_chain, back_at_tip, running, submit


@pytest.fixture(autouse=True)
def _needs_mount_namespaces() -> None:
    if shutil.which("unshare") is None or subprocess.run(
        ["unshare", "--mount", "true"], capture_output=True
    ).returncode != 0:
        skip_unless_setup_installs("needs unshare --mount (root)")

EX_IOERR = 74


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with running(tmp_path_factory.mktemp("faultstore") / "net") as n:
        acks = submit(n, n.txs(5), n.validators, wait=True)
        assert all(s == 200 for s, _ in acks), acks
        yield n


def _in_namespace(setup: str) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"set -e\n{setup}\nexec \"$@\"", "sh"]


def _tmpfs(data: Path, size_kib: int, fill: bool) -> str:
    keep = data.parent / "data.keep"
    lines = [f'rm -rf "{keep}"', f'cp -a "{data}" "{keep}"',
             f'mount -t tmpfs -o size={size_kib}k tmpfs "{data}"',
             f'cp -a "{keep}/." "{data}/"', f'rm -rf "{keep}"']
    if fill:
        lines.append(f'dd if=/dev/zero of="{data}/filler" bs=4k 2>/dev/null || true')
    return "\n".join(lines)


def _exit_status(node: ln.LocalNode, timeout: float) -> int:
    assert node.proc is not None
    return node.proc.wait(timeout)


def _log_since(node: ln.LocalNode, offset: int) -> str:
    with open(node.log_file, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _du_kib(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) // 1024 + 1


def test_read_only_data_dir_is_not_reported_as_locked(net: Net) -> None:
    victim = net.validators[3]
    data = victim.home / "data"
    ln.stop(victim)
    mark = victim.log_file.stat().st_size
    ln.start(victim, argv=_in_namespace(
        f'mount --bind "{data}" "{data}"\nmount -o remount,bind,ro "{data}"'))
    assert _exit_status(victim, 30) == EX_IOERR
    out = _log_since(victim, mark)
    assert "[STORE_READ_ONLY]" in out and "STORE_LOCKED" not in out, out
    assert "cannot be written" in out


def test_full_disk_at_start_is_reported_as_disk_full(net: Net) -> None:
    victim = net.validators[3]
    data = victim.home / "data"
    mark = victim.log_file.stat().st_size
    ln.start(victim, argv=_in_namespace(_tmpfs(data, _du_kib(data) + 512, fill=True)))
    assert _exit_status(victim, 30) == EX_IOERR
    out = _log_since(victim, mark)
    assert "[STORE_DISK_FULL]" in out and "STORE_NOT_FOUND" not in out, out
    assert "free space" in out


def test_disk_filling_up_while_running_stops_the_node_non_zero(net: Net) -> None:
    victim = net.validators[3]
    data = victim.home / "data"
    others = [n for n in net.nodes if n is not victim]
    mark = victim.log_file.stat().st_size
    ln.start(victim, argv=_in_namespace(_tmpfs(data, _du_kib(data) + 2048, fill=False)))
    ln.wait_ready([victim], 30)
    assert victim.proc is not None
    # fill its disk from outside, through its own mount namespace
    inside = Path(f"/proc/{victim.proc.pid}/root") / str(data).lstrip("/") / "filler"
    with open(inside, "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * (64 << 10))
    acks = submit(net, net.txs(20), others, wait=True)
    assert all(s == 200 for s, _ in acks), acks  # the rest of the network goes on
    t0 = time.monotonic()
    assert _exit_status(victim, 60) == EX_IOERR
    out = _log_since(victim, mark)
    assert "fatal error; stopping the node" in out and "code=STORE_DISK_FULL" in out, out
    assert "Error: [STORE_DISK_FULL]" in out
    assert time.monotonic() - t0 < 60
    # restarted on its real disk, it catches up
    assert not os.path.exists(data / "filler")
    ln.start(victim)
    back_at_tip(net, victim, others)
    assert_same_chain(net)
