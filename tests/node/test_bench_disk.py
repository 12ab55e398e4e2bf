"""scripts/bench_disk runs and prints its two figures (the timings are not judged here:
speed is measured by the benchmark, never by a test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_disk_prints_the_write_cost_and_the_loops_pace(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_disk.py"), "--writes", "5", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert re.search(r"^synced write: [\d.]+ ms wall clock, [\d.]+ ms CPU \(5 writes\)$", out, re.M), out
    assert re.search(r"^main thread's pace while another thread writes synced: \d+ % of alone$", out, re.M), out
    assert not (tmp_path / "disk-bench").exists()  # it removes the database it made
