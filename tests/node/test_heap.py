"""The start-up heap is frozen once the process is up (node/heap.py): the collector
no longer walks it, and what is made afterwards is still collected, cycles included."""

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


def test_freezing_keeps_collecting_what_comes_after() -> None:
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
    finally:
        gc.unfreeze()


def test_a_worker_freezes_after_its_first_call() -> None:
    w = PipeWorker()
    try:
        assert asyncio.run(w.call(_frozen)) == 0  # (answered before it freezes)
        assert asyncio.run(w.call(_frozen)) > 1000  # its imports: modules, functions, classes
    finally:
        w.close()
