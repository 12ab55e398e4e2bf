"""Set-up as a person types it (issue 15): a relative --dir, and scripts/demo's guards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from node import localnet as ln

ROOT = Path(__file__).parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_localnet_with_a_relative_dir(tmp_path: Path) -> None:
    up = cli("localnet", "up", "--dir", "net", "--validators", "4", "--observers", "0", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert up.stdout.count(" pid ") == 4
        st = cli("localnet", "status", "--dir", "net", cwd=tmp_path)
        assert st.returncode == 0 and st.stdout.count("height") == 4, st.stdout + st.stderr
    finally:
        down = cli("localnet", "down", "--dir", "net", cwd=tmp_path)
    assert down.returncode == 0 and down.stdout.count("stopped") == 4, down.stdout + down.stderr
    assert not any(n.pid() for n in ln.discover(tmp_path / "net"))


def test_demo_refuses_a_directory_it_already_used(tmp_path: Path) -> None:
    used = tmp_path / "demo"
    (used / "trustees").mkdir(parents=True)
    (used / "trustees" / "commission.key").write_text("{}")
    p = subprocess.run([str(ROOT / "scripts" / "demo_roles"), "--dir", str(used)], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "is not empty" in p.stderr and "Choose a new directory" in p.stderr
    assert not (used / "net").exists(), "nothing was started or written"


def test_demo_installs_what_it_shows() -> None:
    demo = (ROOT / "scripts" / "demo").read_text()
    assert "BALLOTCHAIN_EXTRAS:-test,speech,plot,letters" in demo
    assert "test,speech,plot,letters" in (ROOT / "scripts" / "test").read_text(), "one .venv serves both"
