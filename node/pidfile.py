"""The pid file of a node home, and whether the process it names is alive.

One implementation for the node's own start (``claim_pid_file``) and for the local
network manager (``node/localnet.py``), which stops and restarts nodes by pid; and the
one reader of Linux's ``/proc/PID/stat`` (``proc_stat``), which the benchmarks'
CPU figures (``harness/procstat.py``) read too.
"""

from __future__ import annotations

import os
from pathlib import Path

from ballot_tx.errors import ErrorCode
from node.errors import NodeError


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None if the
    process has ended or cannot be read. The command name may hold spaces and ")", so the
    split is at the last ") "."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields or None


def pid_alive(pid: int) -> bool:
    """A process with this pid runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed node not yet reaped by its parent is a zombie: it owns nothing any more
    # (seen when a node with worker threads is restarted right after SIGKILL).
    fields = proc_stat(pid)
    return fields is None or fields[0] != "Z"


def claim_pid_file(path: Path) -> None:
    """Write our pid, refusing if a live process already owns this home."""
    try:
        old = int(path.read_text().strip())
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid() and pid_alive(old):
        raise NodeError(ErrorCode.NODE_ALREADY_RUNNING, f"process {old} already runs from {path.parent}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)
