"""``scripts/bench_election`` at a small size: every phase of a whole election runs on a
4+1 localnet and the published result equals the plaintext (nothing is timed here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rehearsal_runs_every_phase_and_the_result_matches(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "scripts/bench_election.py", "--voters", "1200", "--ballots", "24",
         "--concurrency", "8", "--dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for phase in ("1 create + key ceremony", "2 register 1200 voters by code", "3 cast 24 ballots via 5 nodes",
                  "4 close + decrypt + publish", "5a export + audit --record", "5b audit --data"):
        assert phase in out, out
    assert "2 CommitCodes transactions" in out
    assert "6 result equals the plaintext of every ballot cast: yes" in out
    assert "peak memory (node + workers, MB): validator-0" in out
