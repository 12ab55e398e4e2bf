"""Strict reading of an operator's TOML file: the rules ``config.toml`` (``node/config.py``)
and ``registrar.toml`` (``node/registrar/config.py``) share.

An unknown key, a wrong type, a value out of range or a missing required field is a
``ConfigError`` (``CONFIG_INVALID``) naming the field (``network.listen: ...``), because an
operator fixing a file at 3 a.m. needs the line, not a traceback. Relative paths are
resolved against the directory holding the file, so a home can be moved as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballot_tx.errors import BallotchainError, ErrorCode

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(BallotchainError):
    """A configuration file (config.toml, registrar.toml) cannot be used as written."""


def field_error(field_name: str, why: str) -> ConfigError:
    return ConfigError(ErrorCode.CONFIG_INVALID, f"config field {field_name}: {why}")


def config_path(home: Path, field_name: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise field_error(field_name, "expected a non-empty path")
    p = Path(value)
    return p if p.is_absolute() else home / p


class StrictTable:
    """Strict access to one TOML table: unknown keys and wrong types name the field."""

    def __init__(self, doc: Any, name: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(doc, dict):
            raise field_error(name, "expected a table")
        extra = sorted(set(doc) - set(allowed))
        if extra:
            raise field_error(f"{name}.{extra[0]}", "unknown field")
        self.doc, self.name = doc, name

    def _get(self, key: str, typ: type, default: Any) -> Any:
        if key not in self.doc:
            if default is REQUIRED:
                raise field_error(f"{self.name}.{key}", "missing")
            return default
        v = self.doc[key]
        if type(v) is not typ:
            raise field_error(f"{self.name}.{key}", f"expected {typ.__name__}, got {type(v).__name__}")
        return v

    def get_str(self, key: str, default: Any = None) -> Any:
        return self._get(key, str, default)

    def get_bool(self, key: str, default: bool) -> bool:
        v: bool = self._get(key, bool, default)
        return v

    def get_int(self, key: str, default: int, lo: int, hi: int) -> int:
        v: int = self._get(key, int, default)
        if not lo <= v <= hi:
            raise field_error(f"{self.name}.{key}", f"{v} is not in [{lo}, {hi}]")
        return v

    def get_list(self, key: str) -> list[Any]:
        v: list[Any] = self._get(key, list, [])
        return v


#: The default that makes a field required (``get_str("listen", REQUIRED)``).
REQUIRED = object()


def parse_hostport(field_name: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise field_error(field_name, f"{value!r} is not host:port")
    return host, int(port)
