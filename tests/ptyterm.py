"""A person at a terminal: run a command under a pseudo-terminal, wait for text, type lines."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Sequence

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal:
    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None,
                 cwd: str | None = None, module: str = "cli.main") -> None:
        self.master, slave = pty.openpty()
        full_env = dict(os.environ, **(env or {}))
        full_env.setdefault("TERM", "xterm")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdin=slave, stdout=slave, stderr=slave,
            env=full_env, cwd=cwd, close_fds=True, start_new_session=True)
        os.close(slave)
        self.buffer = ""
        self.seen = ""
        self.raw = ""

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        if not data:
            return False
        raw = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        self.raw += raw
        text = ANSI.sub("", raw)  # what a person sees: colours are not text
        self.buffer += text
        self.seen += text
        return True

    def expect(self, pattern: str, timeout: float = 20.0) -> str:
        """Wait until ``pattern`` (a regex) appears; return everything up to and including it."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buffer)
            if m:
                before = self.buffer[: m.end()]
                self.buffer = self.buffer[m.end():]
                return before
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None
                             and not self._read(0.1)):
                raise AssertionError(f"did not see {pattern!r}; screen so far:\n{self.seen}")

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05):
            pass
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return code
