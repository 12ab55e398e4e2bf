"""Property tests: generated hostile schedules for n = 4 (f = 1) and n = 7 (f = 2).

Each example is one seed -> one schedule (``consensus.sim.schedules``): up to f Byzantine
validators (silent, equivocating, forging, replaying, wrong view/height, invalid blocks,
twins, Byzantine block times), skewed clocks, loss, duplication, reordering, partitions,
crash-restarts of one validator or of the whole cluster, until the network heals. ``consensus.sim.invariants`` is checked after every step; liveness at the end.
Seeds ending in 7 are lone-replica schedules (``schedules.rejoin_config``): a replica
isolated until it is alone in a higher view, the heal, then kills; view sync and spare
fault tolerance are checked too. Seeds ending in 3 or 8 add clients that submit work in
bursts and go idle (``schedules.idle_clients``); a healthy network must then change no view
(the calm invariant).
A failure names its seed: ``tests.consensus.helpers.replay(seed, n)`` reruns it.

CI profile: 200 + 100 schedules (plus the named scenarios and planted bugs). Thorough
profile (``scripts/test --thorough``): 10,000 for each n. ``python -m consensus.sim.sweep``
runs a fixed seed range and lists every failure instead of stopping at the first.
"""

from __future__ import annotations

from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from consensus.sim.schedules import config_for_seed
from consensus.sim.world import run_schedule
from tests.conftest import thorough

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
# Shrinking a seed means nothing (neighbouring seeds are unrelated schedules): report it.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


def _check(seed: int, n: int) -> None:
    cfg = config_for_seed(seed, n)
    sim = run_schedule(cfg)  # raises InvariantViolation("seed=... n=...: ...")
    assert all(len(x.chain) >= cfg.target_height for x in sim.honest())


@settings(max_examples=10_000 if thorough() else 200, phases=PHASES)
@given(seed=SEEDS)
@example(seed=2)
@example(seed=49)
@example(seed=3921)  # restart with a checkpoint ahead of the chain: must fetch, not propose
def test_schedules_n4(seed: int) -> None:
    _check(seed, 4)


@settings(max_examples=10_000 if thorough() else 100, phases=PHASES)
@given(seed=SEEDS)
@example(seed=2347)  # lone replicas that lag a block become primaries after the view sync
def test_schedules_n7(seed: int) -> None:
    _check(seed, 7)


def test_a_seed_replays_exactly() -> None:
    from tests.consensus.helpers import replay

    for seed, n in ((2, 4), (3, 7)):
        a, b = replay(seed, n), replay(seed, n)
        assert (a.steps, a.now, a.delivered) == (b.steps, b.now, b.delivered)
        assert [x.chain for x in a.instances] == [x.chain for x in b.instances]
        assert [x.state.stats.rejected for x in a.instances] == [x.state.stats.rejected for x in b.instances]
