"""Hypothesis profiles: 'ci' (quick, the CI default), 'dev' (default), 'thorough' (on demand).

Select with HYPOTHESIS_PROFILE or `scripts/test --thorough`.
"""

from __future__ import annotations

import os

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


def skip_unless_setup_installs(reason: str) -> None:
    """A system tool or capability is missing: skip, unless this run is ``scripts/test`` as
    root, whose set-up (scripts/_setup.sh) installs it: then the missing piece is a broken
    set-up, and the test fails instead of passing silently."""
    import pytest

    if os.environ.get("BALLOTCHAIN_EXTRAS") and os.geteuid() == 0:
        pytest.fail(f"{reason}, although scripts/test's set-up installs it as root")
    pytest.skip(reason)
