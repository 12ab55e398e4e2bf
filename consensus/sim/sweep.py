"""Run a range of generated schedules and report every failure (not just the first).

    python -m consensus.sim.sweep --n 4 --first 0 --count 10000

Prints one line per failing seed (replay it with ``tests.consensus.helpers.replay``),
then totals: schedules, failures, CPU seconds, views reached, rejections by code, and for
the lone-replica schedules (seeds ending in 7, ``schedules.rejoin_config``) how long view
sync took after the heal and the longest wait for a block after the kills; for the
schedules with idle clients (seeds ending in 3 or 8), how many settled in a calm view
(healthy network, ``invariants.py``) and so were checked never to change view again.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from consensus.sim.base import InvariantViolation
from consensus.sim.schedules import config_for_seed
from consensus.sim.world import run_schedule


def main() -> None:
    ap = argparse.ArgumentParser(description="sweep generated PBFT schedules")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=1000)
    args = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    failures = 0
    view_changed = 0
    max_view = 0
    roles: Counter[str] = Counter()
    after_heal: Counter[int] = Counter()
    rejected: Counter[str] = Counter()
    sync_ms: list[int] = []  # lone-replica schedules: heal -> all active in one view
    gaps: list[tuple[int, int]] = []  # ... longest wait for a block after the kills, bound
    idle = calm = 0  # schedules with idle clients; ... that settled in a calm view
    calm_busy = 0  # schedules without clients that settled in a calm view
    for seed in range(args.first, args.first + args.count):
        cfg = config_for_seed(seed, args.n)
        roles.update(cfg.byzantine.values())
        try:
            sim = run_schedule(cfg)
        except InvariantViolation as e:
            failures += 1
            print(f"FAIL {e}", flush=True)
            continue
        done = seed - args.first + 1
        if done % 500 == 0:
            print(f"progress {done} schedules, {failures} failures, "
                  f"{time.process_time() - c0:.0f} s CPU, {time.time() - t0:.0f} s wall", flush=True)
        v = max(x.state.view for x in sim.honest())
        view_changed += v > 0
        max_view = max(max_view, v)
        after_heal[v - (sim.view_at_heal or 0)] += 1
        for x in sim.instances:
            rejected.update(x.state.stats.rejected)
        if cfg.clients is not None:
            idle += 1
            calm += sim.inv.calm is not None
        else:
            calm_busy += sim.inv.calm is not None
        if cfg.sync_ms is not None and sim.inv.synced_at is not None:
            sync_ms.append(sim.inv.synced_at - cfg.heal_ms)
            gaps.append(sim.inv.worst_gap)
    print(
        f"n={args.n} seeds {args.first}..{args.first + args.count - 1}: "
        f"{args.count} schedules, {failures} failures, "
        f"{time.process_time() - c0:.0f} s CPU, {time.time() - t0:.0f} s wall; "
        f"view changes in {view_changed}, max view {max_view}"
    )
    print("views needed after the heal (views: schedules):", dict(sorted(after_heal.items())))
    if sync_ms:
        no_stall = [g for g, bound in gaps if bound == cfg.view_timeout_ms]
        print(
            f"lone-replica schedules: {len(sync_ms)}; view sync after the heal: median "
            f"{sorted(sync_ms)[len(sync_ms) // 2]} ms, max {max(sync_ms)} ms; longest wait "
            f"for a block after killing backups only: max {max(no_stall, default=0)} ms "
            f"({len(no_stall)} schedules), after killing the primary too: max "
            f"{max((g for g, b in gaps if b > cfg.view_timeout_ms), default=0)} ms"
        )
    print(
        f"idle-client schedules: {idle}, of which {calm} settled in a calm view (healthy: "
        f"no view change allowed after); busy schedules that settled: {calm_busy}"
    )
    print("byzantine roles:", dict(sorted(roles.items())))
    print("rejections:", dict(sorted(rejected.items())))


if __name__ == "__main__":
    main()
