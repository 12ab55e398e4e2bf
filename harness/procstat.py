"""CPU time of processes and their children, read from Linux /proc, for the benchmarks.

A node runs its verification workers as child processes, so a node's CPU is the node's
plus its children's; the benchmarks (``scripts/bench_*``) read it here, in one place
(through ``node.pidfile.proc_stat``, the one reader of /proc/PID/stat).
"""

from __future__ import annotations

import os

from node.pidfile import proc_stat


def children(pid: int) -> list[int]:
    """The live direct children of ``pid``."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            fields = proc_stat(int(d))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(d))
    return out


def family(pid: int) -> list[int]:
    """``pid`` and its live direct children (a node and its verification workers)."""
    return [pid, *children(pid)]


def with_descendants(pids: list[int]) -> list[int]:
    """The processes and all their live descendants."""
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by exactly these processes (ended ones: 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        fields = proc_stat(p)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
