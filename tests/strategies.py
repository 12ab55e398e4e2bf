"""Hypothesis strategies derived from a Wire class's annotations (shared by all tests)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any, Union

from hypothesis import strategies as st

from ballot_tx.codec import INT_MAX, INT_MIN, MaxLen, Range, Size, Wire


def for_type(tp: Any, max_items: int = 4) -> st.SearchStrategy[Any]:
    """A strategy producing valid values of a wire field annotation."""
    constraints: tuple[Any, ...] = ()
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, constraints = args[0], tuple(args[1:])
    size = next((c.n for c in constraints if isinstance(c, Size)), None)
    maxlen = next((c.n for c in constraints if isinstance(c, MaxLen)), None)
    rng = next((c for c in constraints if isinstance(c, Range)), None)
    origin = typing.get_origin(tp)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(rng.lo if rng else INT_MIN, rng.hi if rng else INT_MAX)
    if tp is bytes:
        if size is not None:
            return st.binary(min_size=size, max_size=size)
        return st.binary(max_size=min(maxlen or 64, 64))
    if tp is str:
        return st.text(max_size=min(maxlen or 32, 32))
    if origin is tuple:
        (item, _) = typing.get_args(tp)
        return st.lists(for_type(item, max_items), max_size=min(maxlen or max_items, max_items)).map(tuple)
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(tp)
        return st.one_of(*[st.none() if m is type(None) else for_type(m, max_items) for m in members])
    if isinstance(tp, type) and issubclass(tp, Wire):
        return wire(tp, max_items)
    raise TypeError(f"no strategy for {tp!r}")


def wire(cls: type[Wire], max_items: int = 4) -> st.SearchStrategy[Any]:
    """A strategy producing instances of a Wire dataclass with valid field values."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    return st.builds(cls, **{name: st.deferred(lambda n=name: for_type(hints[n], max_items)) for name in fields})
