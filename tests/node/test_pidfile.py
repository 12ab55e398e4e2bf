"""The one pid check (node/pidfile.py): alive, ended, zombie; and the pid file it guards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ballot_tx.errors import ErrorCode
from node.errors import NodeError
from node.pidfile import claim_pid_file, pid_alive, proc_stat


def _wait_for_state(pid: int, state: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = proc_stat(pid)
        if fields is not None and fields[0] == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never reached state {state}: {proc_stat(pid)}")


def test_our_own_process_is_alive_and_its_parent_is_named() -> None:
    fields = proc_stat(os.getpid())
    assert fields is not None and fields[0] in "RS"
    assert int(fields[1]) == os.getppid()
    assert pid_alive(os.getpid())


def test_a_zombie_is_not_alive_and_a_reaped_process_has_no_stat() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    _wait_for_state(child.pid, "Z")  # ended, not reaped yet: it owns nothing any more
    assert not pid_alive(child.pid)
    child.wait()
    assert proc_stat(child.pid) is None
    assert not pid_alive(child.pid)


def test_a_command_name_with_a_bracket_and_spaces_does_not_shift_the_fields() -> None:
    # /proc/PID/stat is "pid (comm) state ppid ...": comm is the process's own choice.
    child = subprocess.Popen([sys.executable, "-c",
                              "import ctypes,time;"
                              "ctypes.CDLL(None).prctl(15, b'x) Z 1 2', 0, 0, 0);"
                              "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/comm").read_text().strip() != "x) Z 1 2":
            assert time.monotonic() < deadline, "the child never renamed itself"
            time.sleep(0.02)
        fields = proc_stat(child.pid)
        assert fields is not None and fields[0] != "Z" and int(fields[1]) == os.getpid()
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_the_pid_file_is_refused_while_its_process_lives_and_taken_over_after(tmp_path: Path) -> None:
    path = tmp_path / "node.pid"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{live.pid}\n")
        with pytest.raises(NodeError) as refused:
            claim_pid_file(path)
        assert refused.value.code == ErrorCode.NODE_ALREADY_RUNNING
        assert path.read_text() == f"{live.pid}\n"  # refused: nothing changed
    finally:
        live.kill()
        live.wait()
    claim_pid_file(path)  # the process it named is gone: the home is ours
    assert path.read_text() == f"{os.getpid()}\n"
