"""Generated hostile schedules: one seed -> one ``SimConfig`` (faults, network, crashes).

A schedule picks up to f Byzantine validators with random behaviours (twins included),
a lossy/duplicating/reordering network, partitions, crash-restarts of one honest
validator or of the whole cluster at once, and skewed clocks (honest ones within
+-precision/2 of real time), all before ``heal_ms``; after it the network is reliable and every honest
replica must reach the target height. The same seed always gives the same schedule and,
because the simulation is driven by ``random.Random(seed)``, the same run.

One seed in ten (``seed % 10 == REJOIN_SEEDS``) is a *lone replica* schedule instead
(``rejoin_config``): a partition isolates 1..f honest replicas until their view timers put
them alone in a higher, inactive view while the rest keep committing; the network heals;
then enough other validators are killed that the cluster can only go on if the isolated
ones are back in the active view. It checks view sync and spare fault tolerance
(``invariants.py``) besides every other invariant.

Two seeds in ten (last digit in ``IDLE_SEEDS``) keep their generated faults and add
clients that submit work in bursts and go idle in between (``idle_clients``), the faulty
validators drawing from two more behaviours (a primary that withholds proposals, a backup
that sends stray votes); the calm invariant checks that a healthy network then changes
no view.
"""

from __future__ import annotations

import random
from dataclasses import replace

from consensus.sim.byzantine import BEHAVIOURS, IDLE_BEHAVIOURS
from consensus.sim.world import Clients, SimConfig

#: seeds with this last digit are lone-replica schedules (the other seeds keep the
#: schedules they always had, so pinned examples and earlier sweeps stay comparable)
REJOIN_SEEDS = 7
#: seeds with these last digits have clients that go idle (``idle_clients``)
IDLE_SEEDS = (3, 8)


def config_for_seed(seed: int, n: int) -> SimConfig:
    if seed % 10 == REJOIN_SEEDS:
        return rejoin_config(seed, n)
    cfg = generic_config(seed, n)
    return idle_clients(cfg) if seed % 10 in IDLE_SEEDS else cfg


def generic_config(seed: int, n: int) -> SimConfig:
    """Faults, network and crashes of one seed; every replica always has work pending."""
    rng = random.Random(f"schedule/{n}/{seed}")
    f = (n - 1) // 3
    faulty = rng.sample(range(n), rng.randint(0, f))
    byzantine = {i: rng.choice(BEHAVIOURS) for i in faulty}
    honest = [i for i in range(n) if i not in byzantine]
    heal = rng.choice([0, 300, 800, 1500])
    partitions: list[tuple[int, int, tuple[frozenset[int], ...]]] = []
    if heal and rng.random() < 0.4:
        start = rng.randrange(0, heal)
        end = rng.randrange(start + 1, heal + 1)
        side = frozenset(rng.sample(range(n), rng.randint(1, n // 2)))
        partitions.append((start, end, (side, frozenset(range(n)) - side)))
    crashes = []
    r = rng.random()
    if r < 0.3 and honest:
        who = rng.choice(honest)
        at = rng.randrange(0, 600)
        crashes.append((at, at + rng.randrange(50, 600), who))
    elif r < 0.45:
        # every validator stops at once (power cut, or all restarted for an upgrade), then
        # comes back one by one: what is prepared but not committed must survive
        at = rng.randrange(0, 600)
        crashes += [(at, at + rng.randrange(50, 400), i) for i in honest]
    precision = 20
    skew = {i: rng.randint(-precision // 2, precision // 2) for i in range(n)}
    return SimConfig(
        n=n,
        seed=seed,
        target_height=rng.randint(3, 6),
        checkpoint_interval=rng.choice([1, 2, 3]),
        view_timeout_ms=200,
        drop=rng.choice([0.0, 0.05, 0.2, 0.4]) if heal else 0.0,
        duplicate=rng.choice([0.0, 0.1, 0.3]),
        min_delay_ms=1,
        max_delay_ms=rng.choice([5, 20, 60]),
        heal_ms=heal,
        partitions=partitions,
        byzantine=byzantine,
        crashes=crashes,
        time_precision_ms=precision,
        clock_skew_ms=skew,
    )


def rejoin_config(seed: int, n: int) -> SimConfig:
    """A lone-replica schedule (module docstring): i isolated, f - i + 1 killed later."""
    from consensus.replica import SYNC_AFTER_TIMEOUTS

    rng = random.Random(f"rejoin/{n}/{seed}")
    f = (n - 1) // 3
    timeout = 200
    lone = rng.sample(range(1, n), rng.randint(1, f))  # not view 0's primary: the rest go on
    rest = [i for i in range(n) if i not in lone]
    heal = rng.choice([600, 1000, 1500])
    side = frozenset(lone)
    partitions: list[tuple[int, int, tuple[frozenset[int], ...]]] = [
        (0, heal, (side, frozenset(range(n)) - side))
    ]
    # each isolated replica's VIEW-CHANGE reaches the rest within T of the heal; they sync
    # SYNC_AFTER_TIMEOUTS timeouts later, on its next re-sent VIEW-CHANGE (within T), and
    # the view change itself takes a few delays
    sync_ms = (SYNC_AFTER_TIMEOUTS + 3) * timeout
    kill_at = heal + sync_ms + rng.randrange(0, timeout)
    victims = rng.sample(rest, f - len(lone) + 1)
    precision = 20
    return SimConfig(
        n=n,
        seed=seed,
        target_height=3,
        checkpoint_interval=rng.choice([1, 2, 3]),
        view_timeout_ms=timeout,
        drop=0.0,  # loss would make the rest change view too and meet the lone replica
        duplicate=rng.choice([0.0, 0.1]),
        min_delay_ms=1,
        max_delay_ms=rng.choice([5, 20]),
        heal_ms=heal,
        partitions=partitions,
        kills=[(kill_at, i) for i in victims],
        sync_ms=sync_ms,
        check_kill_gap=True,
        run_until_ms=kill_at + 6 * timeout,
        proposal_delay_ms=50,  # fewer, slower blocks: the same checks at a lower CPU cost
        time_precision_ms=precision,
        clock_skew_ms={i: rng.randint(-precision // 2, precision // 2) for i in range(n)},
    )


def idle_clients(cfg: SimConfig) -> SimConfig:
    """``cfg`` with clients that go idle: three to five bursts of requests separated by
    idle spells of 0.5 to 6 view timeouts (some shorter than a timeout, some ending just
    before a timer expires), the last burst open-ended so the target is reached; the run
    lasts past the last spell. The faulty validators (the same ones) draw their behaviour
    from ``IDLE_BEHAVIOURS`` too."""
    rng = random.Random(f"clients/{cfg.n}/{cfg.seed}")
    t = cfg.view_timeout_ms
    bursts: list[tuple[int, int | None]] = []
    start = rng.randrange(0, 2 * t)
    for _ in range(rng.randint(2, 4)):
        end = start + rng.randrange(10, 3 * t)
        bursts.append((start, end))
        start = end + rng.randrange(t // 2, 6 * t)
    bursts.append((start, None))
    behaviours = BEHAVIOURS + IDLE_BEHAVIOURS
    return replace(
        cfg,
        clients=Clients(tuple(bursts), every_ms=rng.choice([10, 25, 60])),
        byzantine={i: rng.choice(behaviours) for i in sorted(cfg.byzantine)},
        run_until_ms=start + 2 * t,
    )
