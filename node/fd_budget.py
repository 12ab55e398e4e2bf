"""A node's file-descriptor budget: raise the soft limit, then split it so the database and
the peer links never compete with clients for descriptors.

At start the soft ``RLIMIT_NOFILE`` is raised to the hard limit, and the budget is split:
``DB_MAX_OPEN_FILES`` for LevelDB's table cache, ``RESERVED_FDS`` for peer connections,
the log and the pid file, twice the listen ``BACKLOG`` for sockets accepted in one burst,
and the rest (up to ``limits.max_connections``) for incoming HTTP connections, which
``node.guard`` then caps.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from node import logs
from node.guard import BACKLOG

log = logs.get("guard")

#: LevelDB's ``max_open_files`` (table cache); the database never needs more descriptors.
DB_MAX_OPEN_FILES = 100
#: Peer client pool (64), listening sockets, log, pid file, stdio, TLS files, slack.
RESERVED_FDS = 96
#: The fewest client connections a node runs with, whatever the file limit.
MIN_CONNECTIONS = 16


@dataclass(frozen=True)
class FdBudget:
    soft: int
    hard: int
    connections: int
    db_files: int


def raise_nofile() -> tuple[int, int]:
    """Raise the soft file limit to the hard one; return (soft, hard) as they now are."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def fd_budget(max_connections: int) -> FdBudget:
    """Raise the file limit and split it between the database, reserve and clients."""
    soft, hard = raise_nofile()
    room = soft - DB_MAX_OPEN_FILES - RESERVED_FDS - 2 * BACKLOG
    conns = max(MIN_CONNECTIONS, min(max_connections, room))
    if room < MIN_CONNECTIONS:
        log.warning("file limit too low for a node; raise `ulimit -n`", soft=soft, hard=hard,
                    needed=DB_MAX_OPEN_FILES + RESERVED_FDS + 2 * BACKLOG + MIN_CONNECTIONS)
    return FdBudget(soft, hard, conns, DB_MAX_OPEN_FILES)
