"""The pid file of a node home, and whether the process it names is alive.

One implementation for the node's own start (``claim_pid_file``) and for the local
network manager (``node/localnet.py``), which stops and restarts nodes by pid.
"""

from __future__ import annotations

import os
from pathlib import Path

from ballot_tx.errors import ErrorCode
from node.errors import NodeError


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
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


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
