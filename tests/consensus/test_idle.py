"""The view timer counts only while a replica waits for a request (Castro-Liskov §4.4,
``consensus.replica.timers``), in the simulation with clients that submit work and go
idle (``consensus.sim.world.Clients``).

Each scenario also runs under the calm invariant (``consensus.sim.invariants``): a healthy
network, once settled in a view, never leaves it. The planted bugs show the scenarios
fail without the rule they test."""

from __future__ import annotations

import pytest

from consensus.replica import ReplicaState, timers
from consensus.sim.base import InvariantViolation
from consensus.sim.world import Clients, SimConfig, Simulation, run_schedule

T = 200  # the simulation's view timeout (ms)


def run(**kw: object) -> Simulation:
    return run_schedule(SimConfig(**kw))  # type: ignore[arg-type]


def views(sim: Simulation) -> set[int]:
    return {x.state.view for x in sim.honest()}


@pytest.mark.parametrize("n", [4, 7])
def test_an_idle_healthy_network_never_changes_view(n: int) -> None:
    """Two idle spells of 9 and 19 timeouts: no view change, and no block made while idle."""
    bursts = ((0, 100), (2000, 2100), (6000, None))
    sim = run(n=n, seed=1, target_height=3, clients=Clients(bursts), run_until_ms=6000 + 3 * T)
    assert sim.inv.calm is not None and sim.inv.calm[0] == 0
    assert views(sim) == {0}
    made = sorted(sim.made_at.values())
    for (_, end), (nxt, _) in zip(bursts, bursts[1:], strict=False):
        assert end is not None
        assert not [t for t in made if end + 100 < t < nxt], "a block made while idle"
    assert all(len(x.chain) >= 3 for x in sim.honest())
    # the 4 + 4 requests of the first two bursts (one every 25 ms) committed everywhere
    assert all(set(range(1, 9)) <= x.served for x in sim.honest())


def resume_runs() -> list[Simulation]:
    """One burst, then traffic resuming 2 to 40 ms before the first, second or third expiry
    of the view timers armed at the burst's last commit (found by a first run alone)."""
    first = Clients(((0, 60),))
    probe = run(n=4, seed=5, target_height=1, clients=first, run_until_ms=4 * T)
    last_commit = probe.inv.tip[1]
    sims = []
    for k in (1, 2, 3):
        for early in (2, 8, 20, 40):
            resume = last_commit + k * T - early
            clients = Clients(((0, 60), (resume, None)))
            sims.append(run(n=4, seed=5, target_height=probe.inv.tip[0] + 3, clients=clients,
                            run_until_ms=resume + 3 * T))
    return sims


def test_traffic_resuming_just_before_the_timer_expires_changes_no_view() -> None:
    """Issue 12, fault 7: every replica armed its timer at the same commit; a request
    arriving just before it expired left the primary no time. The timer now starts when
    the request arrives."""
    for sim in resume_runs():
        assert views(sim) == {0}
        assert sim.inv.calm is not None


def test_without_starting_the_timer_on_a_request_traffic_resuming_changes_the_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timers, "start_on_request", lambda st, was, token, out: None)
    with pytest.raises(InvariantViolation, match="calm: validator .* left view 0"):
        resume_runs()


def test_a_withholding_primary_is_kept_while_idle_and_replaced_once_work_waits() -> None:
    withhold = {0: "withhold"}
    clients = Clients(((1500, None),))
    idle = run(n=4, seed=2, byzantine=withhold, clients=clients, target_height=0, run_until_ms=1400)
    assert idle.now >= 1400 and views(idle) == {0}  # nothing to suspect it of yet
    busy = run(n=4, seed=2, byzantine=withhold, clients=clients, target_height=4)
    assert min(views(busy)) >= 1
    assert all(len(x.chain) >= 4 for x in busy.honest())
    assert all(c.view >= 1 for x in busy.honest() for _, _, c in x.chain)


def stray_run() -> Simulation:
    bursts = ((0, 100), (3000, 3100), (6000, None))
    return run(n=4, seed=3, byzantine={1: "stray"}, target_height=3, clients=Clients(bursts),
               run_until_ms=6000 + 3 * T)


def test_a_faulty_backups_stray_votes_cause_no_view_change_while_idle() -> None:
    sim = stray_run()
    assert sim.adversary.strays >= 40  # a PREPARE and a COMMIT per timer expiry
    assert sim.inv.calm is not None and views(sim) == {sim.inv.calm[0]} == {0}


def test_counting_every_open_slot_as_work_lets_stray_votes_churn_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rule's guard: only the current primary's proposal is work, not a slot opened by
    someone else's PREPARE or COMMIT."""

    def any_slot(st: ReplicaState) -> bool:
        return not st.active or st.timers.client_work or any(
            h > st.log.last_committed for (_, h) in st.log.slots
        )

    monkeypatch.setattr(timers, "waiting", any_slot)
    with pytest.raises(InvariantViolation, match="calm: validator"):
        stray_run()
