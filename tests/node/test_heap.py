"""The start-up heap is frozen once the process is up (node/heap.py): the collector
no longer walks it, and what is made afterwards is still collected, cycles included;
the young generation is collected every ``YOUNG_THRESHOLD`` allocations."""

from __future__ import annotations

import asyncio
import gc
import weakref

from node import heap
from node.pipe_worker import PipeWorker


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _frozen() -> int:
    return gc.get_freeze_count()


def _threshold() -> tuple[int, int, int]:
    return gc.get_threshold()


def test_freezing_keeps_collecting_what_comes_after() -> None:
    thresholds = gc.get_threshold()
    try:
        before = _Cycle()
        heap.freeze_long_lived()
        assert gc.get_freeze_count() > 0
        kept = weakref.ref(before)
        del before
        gc.collect()
        assert kept() is not None  # frozen: alive until the process ends (the rule's cost)
        after = _Cycle()
        gone = weakref.ref(after)
        del after
        gc.collect()
        assert gone() is None  # made after the freeze: collected as before
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *thresholds[1:])
        for _ in range(3):  # a cycle left to the young generation's own passes
            lost = _Cycle()
            gone = weakref.ref(lost)
            del lost
            junk = [[] for _ in range(heap.YOUNG_THRESHOLD + 1000)]  # allocations: a pass runs
            del junk
            if gone() is None:
                break
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_worker_freezes_after_its_first_call() -> None:
    w = PipeWorker()
    try:
        assert asyncio.run(w.call(_frozen)) == 0  # (answered before it freezes)
        assert asyncio.run(w.call(_frozen)) > 1000  # its imports: modules, functions, classes
        assert asyncio.run(w.call(_threshold))[0] == heap.YOUNG_THRESHOLD
    finally:
        w.close()
