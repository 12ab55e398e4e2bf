"""Unit checks of the fault plumbing: repeated-log limiter, LevelDB error codes, fd budget."""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path

import plyvel
import pytest

from ballot_tx.errors import ErrorCode
from node import fd_budget, guard, log_limit
from node.store_format import leveldb_error


def _record(msg: str, fields: dict[str, object] | None = None) -> logging.LogRecord:
    r = logging.LogRecord("ballotchain.x", logging.ERROR, __file__, 1, msg, None, None)
    if fields is not None:
        r.fields = fields
    return r


def test_repeat_filter_lets_a_burst_through_then_counts_the_rest() -> None:
    f = log_limit.RepeatFilter(window_s=0.3, burst=5)
    passed = [f.filter(_record("accept failed", {})) for _ in range(20)]
    assert passed == [True] * 5 + [False] * 15
    assert f.filter(_record("another event", {}))  # other lines are not held back
    assert all(f.filter(_record("accept failed", {"n": i})) for i in range(10))  # other fields
    time.sleep(0.35)
    nxt = _record("accept failed", {})
    assert f.filter(nxt)
    assert nxt.fields == {"suppressed": 15}  # type: ignore[attr-defined]
    plain = log_limit.RepeatFilter(window_s=0.3, burst=1)
    for _ in range(4):
        plain.filter(_record("socket.accept() out of system resource"))
    time.sleep(0.35)
    last = _record("socket.accept() out of system resource")
    assert plain.filter(last) and "[3 similar lines suppressed]" in last.getMessage()


@pytest.mark.parametrize("text,code", [
    ("IO error: /d/LOCK: Read-only file system", ErrorCode.STORE_READ_ONLY),
    ("IO error: /d/LOCK: Permission denied", ErrorCode.STORE_READ_ONLY),
    ("IO error: lock /d/LOCK: Resource temporarily unavailable", ErrorCode.STORE_LOCKED),
    ("IO error: lock /d/LOCK: already held by process", ErrorCode.STORE_LOCKED),
    ("IO error: /d/000005.log: No space left on device", ErrorCode.STORE_DISK_FULL),
    ("IO error: /d/000007.ldb: Input/output error", ErrorCode.STORE_IO),
])
def test_leveldb_errors_get_the_code_of_their_cause(text: str, code: ErrorCode) -> None:
    err = leveldb_error(Path("/d"), plyvel.IOError(text))
    assert err.code == code, err.message
    assert text in err.message


def test_corruption_is_store_corrupt() -> None:
    err = leveldb_error(Path("/d"), plyvel.CorruptionError("Corruption: block checksum mismatch"))
    assert err.code == ErrorCode.STORE_CORRUPT


def test_fd_budget_keeps_the_database_and_reserve_out_of_the_connection_share() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    b = fd_budget.fd_budget(1_000_000)
    assert b.soft == resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= soft
    assert b.connections + b.db_files + fd_budget.RESERVED_FDS + 2 * guard.BACKLOG <= b.soft
    assert fd_budget.fd_budget(100).connections <= 100
