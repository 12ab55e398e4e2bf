"""The invariants can fail: break one rule of the protocol and the simulation must catch it.

Each test plants a known bug (with monkeypatch) and requires an ``InvariantViolation``
within a few generated schedules, so a green property run means something.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

import consensus.replica as replica
from consensus.events import Persist
from consensus.replica import normal_case, signing, view_change
from consensus.sim import world
from consensus.sim.base import InvariantViolation
from consensus.sim.schedules import config_for_seed
from consensus.sim.world import SimConfig, run_schedule


def caught(match: str, seeds: int = 40, n: int = 4) -> None:
    for seed in range(seeds):
        try:
            run_schedule(config_for_seed(seed, n))
        except InvariantViolation as e:
            assert f"seed={seed} n={n}" in str(e)
            assert re.search(match, str(e)), str(e)
            return
    pytest.fail(f"planted bug not caught in {seeds} schedules")


def test_forgetting_prepared_blocks_in_view_change_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    orig = view_change.start_view_change

    def forgetful(st: replica.ReplicaState, v: int, out: list) -> None:  # type: ignore[type-arg]
        st.log.prepared.clear()
        orig(st, v, out)

    monkeypatch.setattr(view_change, "start_view_change", forgetful)
    caught("committed height", seeds=120)


def test_preparing_without_validation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        normal_case, "validate", lambda st, h, d: d in st.log.blocks and st.hash_at(h - 1) is not None
    )
    caught("app rejects")


def test_restarting_without_the_record_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    orig = world.Simulation._restart

    def amnesia(self: world.Simulation, index: int) -> None:
        for inst in self.instances:
            if inst.index == index:
                inst.record = None
        orig(self, index)

    monkeypatch.setattr(world.Simulation, "_restart", amnesia)
    # a replica that forgot its record votes again in a view it promised to leave
    caught("signed two values|after VIEW-CHANGE for view")


def test_sending_before_persisting_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    orig: Callable = replica.step  # type: ignore[type-arg]

    def late_persist(st, ev):  # type: ignore[no-untyped-def]
        st, actions = orig(st, ev)
        return st, [a for a in actions if not isinstance(a, Persist)] + [
            a for a in actions if isinstance(a, Persist)
        ]

    monkeypatch.setattr(world, "step", late_persist)
    with pytest.raises(InvariantViolation, match="persist|Persist"):
        run_schedule(SimConfig(n=4, seed=1, target_height=2))


def test_weak_commit_quorum_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    orig = world.init_state

    def weak(*a, **k):  # type: ignore[no-untyped-def]
        st = orig(*a, **k)
        st.config = dataclasses.replace(st.config, quorum=st.config.f + 1)  # frozen: a new one
        return st

    monkeypatch.setattr(world, "init_state", weak)
    with pytest.raises(InvariantViolation, match="certificate"):
        run_schedule(SimConfig(n=4, seed=1, target_height=2))


def test_never_changing_view_is_caught_as_a_liveness_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(view_change, "start_view_change", lambda st, v, out: None)
    with pytest.raises(InvariantViolation, match="liveness"):
        run_schedule(SimConfig(n=4, seed=1, target_height=2, byzantine={0: "silent"}, liveness_ms=5000))


def test_ignoring_block_time_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the PBTS rule a Byzantine primary's stale or future block time commits."""
    monkeypatch.setattr(normal_case, "is_timely", lambda *a: True)
    caught("block time", seeds=400)


def test_forgetting_prepared_block_bytes_is_caught_as_a_halt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12, fault 1: a record without the prepared block's bytes halts the chain
    after every validator restarts between prepare and commit."""
    orig = signing.record

    def without_blocks(st: replica.ReplicaState) -> replica.SafetyRecord:
        import dataclasses

        return dataclasses.replace(orig(st), blocks=())

    monkeypatch.setattr(signing, "record", without_blocks)
    caught("liveness", seeds=300)
