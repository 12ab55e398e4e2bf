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
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect start-up's garbage, then exempt every object still alive from later
    collections (call once, when the process is up)."""
    gc.collect()
    gc.freeze()
