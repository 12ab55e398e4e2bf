"""Repeated log lines, rate-limited: a fault that repeats thousands of times a second
yields a few lines and a count of the suppressed ones, not gigabytes.
"""

from __future__ import annotations

import logging
import time


class RepeatFilter(logging.Filter):
    """Lets ``burst`` identical lines through per ``window_s``, then counts the rest.

    Lines are identical when logger, level, event (the unformatted message) and
    fields all match: ``block committed height=7`` and ``height=8`` are two lines,
    the same ``peer unreachable`` or accept error a thousand times is one. The first line let through after a suppression says how many were
    dropped (``suppressed=N``), so the operator still sees the rate.
    """

    def __init__(self, window_s: float = 10.0, burst: int = 5, max_keys: int = 1000) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self.max_keys = max_keys
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        key = (record.name, record.levelno, f"{record.msg}|{fields!r}" if fields else str(record.msg))
        now = time.monotonic()
        slot = self._seen.get(key)
        if slot is None or now - slot[0] >= self.window_s:
            dropped = 0 if slot is None else int(slot[2])
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if dropped:
                _note_suppressed(record, dropped)
            return True
        slot[1] += 1
        if slot[1] <= self.burst:
            return True
        slot[2] += 1
        return False


def _note_suppressed(record: logging.LogRecord, dropped: int) -> None:
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        record.fields = {**fields, "suppressed": dropped}
    else:
        record.msg = f"{record.msg} [{dropped} similar lines suppressed]"


_FILTER = RepeatFilter()


def install_log_limiter() -> None:
    """Rate-limit repeated lines on every handler our logs and asyncio's/aiohttp's reach."""
    handlers: list[logging.Handler] = []
    for name in ("ballotchain", ""):
        handlers += logging.getLogger(name).handlers
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for h in handlers:
        if _FILTER not in h.filters:
            h.addFilter(_FILTER)
