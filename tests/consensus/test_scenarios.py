"""Named hostile scenarios: each fault on its own, with the effect it must have."""

from __future__ import annotations

from consensus.sim.app import parse_block
from consensus.sim.world import SimConfig, Simulation, run_schedule


def run(**kw: object) -> Simulation:
    return run_schedule(SimConfig(**kw))  # type: ignore[arg-type]


def views(sim: Simulation) -> list[int]:
    return [x.state.view for x in sim.honest()]


def rejected(sim: Simulation, code: str) -> int:
    return sum(x.state.stats.rejected[code] for x in sim.honest())


def test_silent_primary_is_replaced() -> None:
    for n in (4, 7):
        sim = run(n=n, seed=1, byzantine={0: "silent"}, target_height=4)
        assert min(views(sim)) >= 1
        assert all(len(x.chain) >= 4 for x in sim.honest())


def test_two_silent_validators_of_seven() -> None:
    sim = run(n=7, seed=2, byzantine={0: "silent", 1: "silent"}, target_height=4)
    assert min(views(sim)) >= 2  # views 0 and 1 have silent primaries


def test_invalid_blocks_never_commit_and_cost_a_view() -> None:
    sim = run(n=4, seed=3, byzantine={0: "invalid"}, target_height=4)
    assert min(views(sim)) >= 1 and rejected(sim, "CONSENSUS_INVALID_BLOCK") >= 3
    for x in sim.honest():
        for _, block, _ in x.chain:
            parsed = parse_block(block)
            assert parsed is not None and parsed[4] and parsed[2] != 0


def test_equivocating_primary_cannot_split_the_chain() -> None:
    for n, seed in ((4, 4), (7, 5)):
        sim = run(n=n, seed=seed, byzantine={0: "equivocate"}, target_height=5)
        chains = {tuple(d for d, _, _ in x.chain[:5]) for x in sim.honest()}
        assert len(chains) == 1


def test_twins_primary_equivocates_by_accident_and_safety_holds() -> None:
    sim = run(n=4, seed=6, byzantine={0: "twin"}, target_height=5)
    assert len([x for x in sim.instances if x.index == 0]) == 2
    assert len({tuple(d for d, _, _ in x.chain[:5]) for x in sim.honest()}) == 1


def test_forgeries_and_outsiders_are_rejected() -> None:
    sim = run(n=4, seed=7, byzantine={1: "forge"}, target_height=6)
    assert rejected(sim, "CONSENSUS_BAD_SIGNATURE") > 0
    assert rejected(sim, "CONSENSUS_NOT_VALIDATOR") > 0


def test_wrong_view_and_height_are_rejected() -> None:
    sim = run(n=4, seed=8, byzantine={2: "wrongview"}, target_height=6)
    assert rejected(sim, "CONSENSUS_WRONG_VIEW") + rejected(sim, "CONSENSUS_CONFLICT") > 0


def test_partition_heals_and_everyone_commits() -> None:
    side = frozenset({0, 1, 2})
    sim = run(
        n=7, seed=9, heal_ms=1500, target_height=5,
        partitions=[(0, 1500, (side, frozenset(range(7)) - side))],
    )
    # 4 of 7 < 2f+1 = 5 on either side: nothing commits before the heal
    assert all(len(x.chain) >= 5 for x in sim.honest())
    assert max(views(sim)) >= 1


def test_crashed_replica_restarts_from_its_record_and_catches_up() -> None:
    sim = run(n=4, seed=10, crashes=[(30, 900, 3)], target_height=8, checkpoint_interval=2)
    x = next(i for i in sim.instances if i.index == 3)
    assert len(x.chain) >= 8 and x.record is not None


def test_lossy_duplicating_network_still_agrees() -> None:
    sim = run(n=7, seed=11, drop=0.3, duplicate=0.3, heal_ms=1000, max_delay_ms=40, target_height=5)
    assert len({tuple(d for d, _, _ in x.chain[:5]) for x in sim.honest()}) == 1
