"""The cyclic garbage collector, told what lives for the whole run.

A node's event loop starts with ~100,000 objects (modules, the genesis, the state's
caches) that live until it stops. CPython's full collection walks every one of them
each time: ~50 ms of the loop here, twice in a 2,000-ballot ``bench_network --simple``
run, plus ~2.5 ms per middle-generation pass; a verification worker's ~23 ms passes
over ~55,000. ``gc.freeze`` moves the objects alive after start-up into a permanent
generation the collector never walks again.

Valid because everything frozen is reached from the running node until it stops: a
cycle made at start-up that turns into garbage later is never collected, so only the
objects alive once the node serves (or a worker has made its first call) are frozen,
after a full collection has freed start-up's garbage. Nothing is disabled: every object
made afterwards is collected as before.

The youngest generation is then collected every ``YOUNG_THRESHOLD`` net allocations
instead of CPython's 700. Most of a ballot's objects die by reference counting within a
few hundred allocations; at 700 a pass still walks those that are alive at that
instant, and the survivors are walked again by the middle generation. Timed with a
``gc.callbacks`` timer over a ``bench_network --simple`` run of 2,300 ballots: all
collections of the ten processes took ~290 ms at 700, ~75 ms at 20,000 (about 0.09 ms
per ballot less). A pass then takes 4-5 ms instead of 0.25 ms on a validator's loop:
a pause well inside a block's interval. Unreachable cycles wait a little longer for
their collection; none are lost.
"""

from __future__ import annotations

import gc

#: Net allocations between two collections of the youngest generation (CPython: 700).
YOUNG_THRESHOLD = 20_000


def freeze_long_lived() -> None:
    """Collect start-up's garbage, exempt every object still alive from later
    collections, and collect the young less often (call once, when the process is up)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
