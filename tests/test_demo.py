"""scripts/demo's walkthrough runs end to end: the README's first command must keep working."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_walkthrough_runs_an_election_and_audits_clean(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    p = subprocess.run(
        [str(ROOT / "scripts" / "demo_roles"), "--dir", str(tmp_path / "demo")],
        capture_output=True, text=True, env=env, timeout=420, stdin=subprocess.DEVNULL,
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "demo complete" in out
    assert out.count("audit OK") == 2, out[-2000:]  # the exported record, then the live observer
    assert "/vote/" in out and "?chain=" in out
    net = tmp_path / "demo" / "net"
    for home in ("validator-0", "validator-1", "validator-2", "validator-3", "observer-0"):
        assert any((net / home / "data").iterdir()), f"{home} has no LevelDB data"
    # the network was stopped at the end: no node process is left behind
    left = subprocess.run(["pgrep", "-f", f"node start --home {net}"], capture_output=True, text=True)
    assert left.stdout.strip() == ""
