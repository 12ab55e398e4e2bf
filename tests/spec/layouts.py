"""The wire layouts as the code defines them, in the notation of docs/spec/README.md.

Used by tests/spec/test_spec_docs.py to compare every layout table of docs/spec with the
code (names, order and types), and runnable to print a table for a new object:
``python -m tests.spec.layouts CastBallot``.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from typing import Annotated, Any, Union

from ballot_tx.codec import MaxLen, Range, Size, Wire


def type_str(tp: Any) -> str:
    """``u8``/``u16``/``u32``/``u64``/``i64``, ``bool``, ``bN`` (exactly N bytes), ``bytes≤N``,
    ``str≤N``, ``[T]≤N``, ``T?`` and object names; a tagged union is ``TxBody`` or
    ``ConsensusBody`` (the body of a ``ConsensusMessage``)."""
    cons: tuple[Any, ...] = ()
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, cons = args[0], tuple(args[1:])
    size = next((c.n for c in cons if isinstance(c, Size)), None)
    maxlen = next((c.n for c in cons if isinstance(c, MaxLen)), None)
    rng = next((c for c in cons if isinstance(c, Range)), None)
    bound = f"≤{maxlen}" if maxlen is not None else ""
    if tp is bool:
        return "bool"
    if tp is int:
        if rng is None:
            return "i64"
        bits = {2**8 - 1: 8, 2**16 - 1: 16, 2**32 - 1: 32, 2**64 - 1: 64}[rng.hi]
        assert rng.lo == 0
        return f"u{bits}"
    if tp is bytes:
        return f"b{size}" if size is not None else "bytes" + bound
    if tp is str:
        return "str" + bound
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"[{type_str(typing.get_args(tp)[0])}]" + bound
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(tp)
        rest = [m for m in members if m is not type(None)]
        if len(rest) < len(members):
            inner = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
            return type_str(inner) + "?"
        names = {m.__name__ for m in members}
        return "ConsensusBody" if "PrePrepare" in names else "TxBody"
    assert isinstance(tp, type) and issubclass(tp, Wire), tp
    return tp.__name__


def layout(cls: type) -> list[tuple[str, str]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return [(f.name, type_str(hints[f.name])) for f in dataclasses.fields(cls)]


def reachable(roots: list[type]) -> dict[str, type]:
    """Every Wire class reachable from ``roots`` through field types (unions included)."""
    out: dict[str, type] = {}

    def walk(tp: Any) -> None:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
        for a in typing.get_args(tp):
            walk(a)
        if isinstance(tp, type) and issubclass(tp, Wire) and tp.__name__ not in out:
            out[tp.__name__] = tp
            for _, t in typing.get_type_hints(tp, include_extras=True).items():
                walk(t)

    for r in roots:
        walk(r)
    return out


def table(cls: type) -> str:
    rows = ["| # | field | type | meaning |", "|---|---|---|---|"]
    rows += [f"| {i} | `{n}` | `{t}` | |" for i, (n, t) in enumerate(layout(cls))]
    return "\n".join(rows)


if __name__ == "__main__":
    from tests.spec.test_spec_docs import documented_classes

    classes = documented_classes()
    for name in sys.argv[1:] or sorted(classes):
        print(f"#### `{name}`\n\n{table(classes[name])}\n")
