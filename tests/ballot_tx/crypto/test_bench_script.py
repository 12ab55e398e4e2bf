"""scripts/bench_crypto stays runnable: its pieces run on tiny inputs and check their counts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench_crypto.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_crypto", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_pieces_run(capsys: pytest.CaptureFixture[str]) -> None:
    b = _bench()
    costs = b.raw_costs(20)
    sums = {f"sum_{backend}" for backend in b.point_sums_backends()}
    assert set(costs) == {"mult", "base", "add", "valid", "ed25519"} | sums
    assert all(costs[k] > 0 for k in sums)
    trustees = b.ceremony(b.SINGLE)
    b.bench_ballot("single", b.SINGLE, b.tr.joint_key(trustees.qualified), 2, costs)
    b.bench_tally(b.SINGLE, trustees, [30], pool_size=7)  # asserts the decrypted counts
    out = capsys.readouterr().out
    assert "ratio verify / (mults x one mult)" in out
    assert "30 ballots: tally+decrypt" in out
