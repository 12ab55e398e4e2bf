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
