"""The JSON view of wire objects: fields by name, bytes as hex, tagged variants with a ``type``.

One rendering shared by the node's client API and the published election record, so a
record file and an API answer show the same object the same way. It is a view for people
and scripts, never signed or hashed: the canonical bytes are ``ballot_tx.codec``'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def to_json_value(v: Any) -> Any:
    """A JSON view of a wire object or plain value: fields by name, bytes as hex."""
    if isinstance(v, bytes):
        return v.hex()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        out: dict[str, Any] = {}
        tag = getattr(type(v), "TAG", -1)
        if tag is not None and tag >= 0:
            out["type"] = type(v).__name__
        for f in dataclasses.fields(v):
            out[f.name] = to_json_value(getattr(v, f.name))
        return out
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    return v
