"""Structured log lines: one event name plus key=value fields, as text or JSON.

Operators feed JSON lines to their log pipeline (``[log] json = true``) and read
text lines on a terminal. Callers pass only the fields they mean to publish:
nothing here walks objects, so key material can only reach a log line if some
code names it explicitly (none does; ``test_logs`` checks the secret never
appears in a node's log).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for k, v in getattr(record, "fields", {}).items():
            doc[k] = _plain(v)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        parts = [f"{t}.{ms:03d}Z", f"{record.levelname.lower():7}", record.name, record.getMessage()]
        for k, v in getattr(record, "fields", {}).items():
            parts.append(f"{k}={_plain(v)}")
        line = " ".join(str(p) for p in parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Log:
    """A logger taking an event name and keyword fields: ``log.info("commit", height=3)``."""

    def __init__(self, name: str) -> None:
        self._l = logging.getLogger(name)

    def _emit(self, level: int, event: str, exc: bool, fields: dict[str, Any]) -> None:
        if self._l.isEnabledFor(level):
            self._l.log(level, event, extra={"fields": fields}, exc_info=exc)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, False, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, False, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """An ERROR line with the current exception's traceback."""
        self._emit(logging.ERROR, event, True, fields)

    def enabled(self, level: str) -> bool:
        return self._l.isEnabledFor(_LEVELS[level])


def get(name: str) -> Log:
    return Log(f"ballotchain.{name}")


def setup(level: str = "info", json_lines: bool = False, file: Path | None = None) -> None:
    """Route every ``ballotchain.*`` logger to stderr (or ``file``) in the chosen format."""
    root = logging.getLogger("ballotchain")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    handler: logging.Handler
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if json_lines else _TextFormatter())
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    root.propagate = False
    # aiohttp's own access log is noisy and unstructured; our middleware logs errors.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
