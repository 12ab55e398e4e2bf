"""Shared helpers for consensus tests: a genesis of sim validators and a replay helper."""

from __future__ import annotations

from consensus.sim.schedules import config_for_seed
from consensus.sim.world import SimConfig, Simulation, run_schedule


def replay(seed: int, n: int = 4) -> Simulation:
    """Re-run the generated schedule of ``seed`` exactly (what a failure message prints)."""
    return run_schedule(config_for_seed(seed, n))


def quiet(n: int, target: int = 6, seed: int = 0) -> Simulation:
    return run_schedule(SimConfig(n=n, seed=seed, target_height=target))
