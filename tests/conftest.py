"""Hypothesis profiles: 'ci' (quick, the CI default), 'dev' (default), 'thorough' (on demand).

Select with HYPOTHESIS_PROFILE or `scripts/test --thorough`.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def thorough() -> bool:
    """True under the thorough profile: tests that run schedules scale their counts with it."""
    return os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def skip_unless_setup_installs(reason: str, extra: str | None = None) -> None:
    """A system tool, capability or optional extra is missing: skip, unless this run is
    ``scripts/test``, whose set-up installs it: then the missing piece is a broken set-up,
    and the test fails instead of passing silently. ``extra``: the pip extra that brings
    it (scripts/test installs it when it is in BALLOTCHAIN_EXTRAS); otherwise a system
    package, which scripts/_setup.sh installs only as root."""
    import pytest

    extras = os.environ.get("BALLOTCHAIN_EXTRAS")
    installs = bool(extras) and (extra in extras.split(",") if extra else os.geteuid() == 0)
    if installs:
        pytest.fail(f"{reason}, although scripts/test's set-up installs it")
    pytest.skip(reason)


#: Files whose tests take longest (``--durations``), started first. ``scripts/test`` runs
#: the suite on two workers, one file to a worker at a time (``--dist loadfile``, so a
#: file's module fixtures such as a localnet are built once): a long file started last
#: would leave the other worker idle at the end. Only the order changes, never a result.
LONG_FILES_FIRST = (
    "tests/web/test_browser.py",
    "tests/test_demo.py",
    "tests/node/test_network.py",
    "tests/node/test_hostile_primary.py",
    "tests/node/registrar/test_browser_login.py",
    "tests/consensus/test_schedules.py",
    "tests/consensus/test_invariants_bite.py",
    "tests/deploy/test_ops_logs.py",
    "tests/node/test_fault_http.py",
    "tests/node/test_fault_forward.py",
    "tests/cli/test_receipts.py",
    "tests/deploy/test_netns_network.py",
)


def pytest_collection_modifyitems(config: object, items: list[object]) -> None:
    import pytest

    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}

    def key(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::", 1)[0], len(rank))

    items.sort(key=key)  # type: ignore[arg-type]  # stable: a file keeps its own order


# Figures the deployment tests measure (tests/deploy), printed at the end of the run: a
# test records one with ``record_property("figure", text)``; the property travels with
# its report, so the summary shows it also when the suite runs on xdist workers. The hook
# lives here, in the root conftest, because only this one is loaded by xdist's controller.
def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = [
        value
        for reports in terminalreporter.stats.values()
        for r in reports
        if getattr(r, "when", None) == "call"
        for name, value in getattr(r, "user_properties", ())
        if name == "figure"
    ]
    if figures:
        terminalreporter.section("deployment figures")
        for line in figures:
            terminalreporter.write_line(line)
