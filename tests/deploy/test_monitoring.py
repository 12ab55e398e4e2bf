"""deploy/prometheus/alerts.yml passes promtool and fires when it should; the dashboard's PromQL parses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_unless_setup_installs
from tests.deploy.monitoring import ALERTS, dashboard_queries

PROMTOOL = shutil.which("promtool")


@pytest.fixture
def needs_promtool() -> None:
    if PROMTOOL is None:
        skip_unless_setup_installs("promtool not installed (scripts/_setup.sh installs Debian's prometheus package as root)")


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.usefixtures("needs_promtool")
def test_alert_rules_check_and_fire_on_their_series() -> None:
    p = promtool("check", "rules", str(ALERTS))
    assert p.returncode == 0 and "SUCCESS: 7 rules found" in p.stdout, p.stdout + p.stderr
    p = promtool("test", "rules", "alerts_test.yml", cwd=ALERTS.parent)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr


@pytest.mark.usefixtures("needs_promtool")
def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(ALERTS.read_text().replace("ballotchain_catching_up == 1",
                                              "ballotchain_catching_up == = 1"))
    p = promtool("check", "rules", str(bad))
    assert p.returncode != 0 and "BallotchainCatchingUpLong" not in p.stdout


@pytest.mark.usefixtures("needs_promtool")
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, q in enumerate(queries):
        q = q.replace("$instance", ".*").replace('"', '\\"')
        rules += [f"      - record: dashboard:q{i}", f'        expr: "{q}"']
    f = tmp_path / "dash-rules.yml"
    f.write_text("\n".join(rules) + "\n")
    p = promtool("check", "rules", str(f))
    assert p.returncode == 0, p.stdout + p.stderr
