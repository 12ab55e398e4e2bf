"""The one canonical encoder/decoder for everything that is signed or hashed.

An object is a frozen dataclass deriving from ``Wire``. Its encoding is the
msgpack encoding of the list of its fields in declaration order, recursively:

* ``int`` -> msgpack int (smallest form), ``bool`` -> true/false,
  ``bytes`` -> bin, ``str`` -> str (UTF-8), ``tuple[T, ...]`` -> array,
* a nested ``Wire`` -> array of its fields,
* ``X | None`` -> nil or X,
* a union of ``Wire`` classes each with a distinct ``TAG`` -> ``[TAG, [fields]]``.

There are no maps and no floats, so there is exactly one encoding per value.
Decoding is strict and total: any input either yields an object equal to the
one that was encoded, or raises ``CodecError`` with a stable code (oversize,
malformed, trailing bytes, wrong type, field count, range, non-canonical,
unknown tag). Hashes are SHA-256 over a domain-separation prefix per object
kind, so bytes of one kind can never be mistaken for another's.

Constraints are declared in annotations: ``Annotated[bytes, Size(32)]``,
``Annotated[str, MaxLen(200)]``, ``Annotated[int, Range(0, 100)]``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar, Union

import msgpack

from ballot_tx.errors import CodecError, ErrorCode

DOMAIN_PREFIX = b"ballotchain/v1/"
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
DEFAULT_MAX_SIZE = 1 << 20
#: The deepest list nesting a decoded value may have (far beyond any wire class's).
PLAIN_MAX_DEPTH = 64


@dataclass(frozen=True)
class Size:
    """Exact length of a bytes field."""

    n: int


@dataclass(frozen=True)
class MaxLen:
    """Maximum length of a bytes, str or tuple field."""

    n: int


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of an int field."""

    lo: int
    hi: int


Bytes32 = Annotated[bytes, Size(32)]
Bytes64 = Annotated[bytes, Size(64)]
U8 = Annotated[int, Range(0, 2**8 - 1)]
U16 = Annotated[int, Range(0, 2**16 - 1)]
U32 = Annotated[int, Range(0, 2**32 - 1)]
U64 = Annotated[int, Range(0, 2**64 - 1)]


class Wire:
    """Base of every canonical wire object (use with ``@dataclass(frozen=True)``).

    ``KIND`` names the object kind for domain separation; ``MAX_SIZE`` bounds its
    encoded size; ``TAG`` identifies it inside a tagged union.
    """

    KIND: ClassVar[str] = ""
    MAX_SIZE: ClassVar[int] = DEFAULT_MAX_SIZE
    TAG: ClassVar[int] = -1


W = TypeVar("W", bound=Wire)

_ToPlain = Callable[[Any, str], Any]
_FromPlain = Callable[[Any, str], Any]


def _err(code: ErrorCode, path: str, what: str) -> CodecError:
    return CodecError(code, f"{path or 'value'}: {what}")


def _type_name(v: object) -> str:
    return type(v).__name__


def _compile(tp: Any) -> tuple[_ToPlain, _FromPlain]:
    """Build (to_plain, from_plain) for an annotation; both check every constraint."""
    constraints: tuple[Any, ...] = ()
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, constraints = args[0], tuple(args[1:])
    size = next((c.n for c in constraints if isinstance(c, Size)), None)
    maxlen = next((c.n for c in constraints if isinstance(c, MaxLen)), None)
    rng = next((c for c in constraints if isinstance(c, Range)), None)

    origin = typing.get_origin(tp)
    if tp is bool:

        def check_bool(v: Any, path: str) -> Any:
            if type(v) is not bool:
                raise _err(ErrorCode.CODEC_WRONG_TYPE, path, f"expected bool, got {_type_name(v)}")
            return v

        return check_bool, check_bool
    if tp is int:
        lo, hi = (rng.lo, rng.hi) if rng else (INT_MIN, INT_MAX)

        def check_int(v: Any, path: str) -> Any:
            if type(v) is not int:
                raise _err(ErrorCode.CODEC_WRONG_TYPE, path, f"expected int, got {_type_name(v)}")
            if not lo <= v <= hi:
                raise _err(ErrorCode.CODEC_OUT_OF_RANGE, path, f"{v} not in [{lo}, {hi}]")
            return v

        return check_int, check_int
    if tp is bytes or tp is str:
        want = tp

        def check_seq(v: Any, path: str) -> Any:
            if type(v) is not want:
                raise _err(
                    ErrorCode.CODEC_WRONG_TYPE,
                    path,
                    f"expected {want.__name__}, got {_type_name(v)}",
                )
            if size is not None and len(v) != size:
                raise _err(ErrorCode.CODEC_OUT_OF_RANGE, path, f"length {len(v)} != {size}")
            if maxlen is not None and len(v) > maxlen:
                raise _err(ErrorCode.CODEC_OUT_OF_RANGE, path, f"length {len(v)} > {maxlen}")
            return v

        return check_seq, check_seq
    if origin is tuple:
        targs = typing.get_args(tp)
        if len(targs) != 2 or targs[1] is not Ellipsis:
            raise TypeError(f"only homogeneous tuple[T, ...] is supported, not {tp}")
        item_to, item_from = _compile(targs[0])

        def tuple_to(v: Any, path: str) -> Any:
            if type(v) is not tuple:
                raise _err(ErrorCode.CODEC_WRONG_TYPE, path, f"expected tuple, got {_type_name(v)}")
            if maxlen is not None and len(v) > maxlen:
                raise _err(ErrorCode.CODEC_OUT_OF_RANGE, path, f"{len(v)} items > {maxlen}")
            return [item_to(x, f"{path}[{i}]") for i, x in enumerate(v)]

        def tuple_from(v: Any, path: str) -> Any:
            if type(v) is not list:
                raise _err(ErrorCode.CODEC_WRONG_TYPE, path, f"expected array, got {_type_name(v)}")
            if maxlen is not None and len(v) > maxlen:
                raise _err(ErrorCode.CODEC_OUT_OF_RANGE, path, f"{len(v)} items > {maxlen}")
            return tuple(item_from(x, f"{path}[{i}]") for i, x in enumerate(v))

        return tuple_to, tuple_from
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(tp)
        if type(None) in members:
            rest = tuple(m for m in members if m is not type(None))
            inner_to, inner_from = _compile(rest[0] if len(rest) == 1 else Union[rest])  # noqa: UP007

            def opt_to(v: Any, path: str) -> Any:
                return None if v is None else inner_to(v, path)

            def opt_from(v: Any, path: str) -> Any:
                return None if v is None else inner_from(v, path)

            return opt_to, opt_from
        return _compile_tagged_union(members)
    if isinstance(tp, type) and issubclass(tp, Wire) and dataclasses.is_dataclass(tp):
        cls = tp

        def obj_to(v: Any, path: str) -> Any:
            if type(v) is not cls:
                raise _err(
                    ErrorCode.CODEC_WRONG_TYPE, path, f"expected {cls.__name__}, got {_type_name(v)}"
                )
            return _plan(cls).to_plain(v, path)

        def obj_from(v: Any, path: str) -> Any:
            return _plan(cls).from_plain(v, path)

        return obj_to, obj_from
    raise TypeError(f"unsupported wire field type: {tp!r}")


def _compile_tagged_union(members: tuple[Any, ...]) -> tuple[_ToPlain, _FromPlain]:
    by_tag: dict[int, type[Wire]] = {}
    for m in members:
        if not (isinstance(m, type) and issubclass(m, Wire)) or m.TAG < 0:
            raise TypeError(f"union member {m!r} must be a Wire class with a TAG")
        if m.TAG in by_tag:
            raise TypeError(f"duplicate TAG {m.TAG} in union")
        by_tag[m.TAG] = m

    def union_to(v: Any, path: str) -> Any:
        cls = type(v)
        if by_tag.get(getattr(cls, "TAG", -1)) is not cls:
            raise _err(ErrorCode.CODEC_WRONG_TYPE, path, f"{_type_name(v)} is not a union member")
        return [cls.TAG, _plan(cls).to_plain(v, path)]

    def union_from(v: Any, path: str) -> Any:
        if type(v) is not list or len(v) != 2 or type(v[0]) is not int:
            raise _err(ErrorCode.CODEC_WRONG_TYPE, path, "expected [tag, fields]")
        cls = by_tag.get(v[0])
        if cls is None:
            raise _err(ErrorCode.CODEC_UNKNOWN_TAG, path, f"unknown tag {v[0]}")
        return _plan(cls).from_plain(v[1], path)

    return union_to, union_from


@dataclass
class _Plan:
    cls: type
    names: tuple[str, ...]
    to_fns: tuple[_ToPlain, ...]
    from_fns: tuple[_FromPlain, ...]

    def to_plain(self, obj: Any, path: str) -> list[Any]:
        return [
            fn(getattr(obj, name), f"{path}.{name}" if path else name)
            for name, fn in zip(self.names, self.to_fns, strict=True)
        ]

    def from_plain(self, v: Any, path: str) -> Any:
        if type(v) is not list:
            raise _err(
                ErrorCode.CODEC_WRONG_TYPE,
                path,
                f"expected {self.cls.__name__} array, got {_type_name(v)}",
            )
        if len(v) != len(self.names):
            raise _err(
                ErrorCode.CODEC_FIELD_COUNT,
                path,
                f"{self.cls.__name__} has {len(self.names)} fields, got {len(v)}",
            )
        values = [
            fn(x, f"{path}.{name}" if path else name)
            for name, fn, x in zip(self.names, self.from_fns, v, strict=True)
        ]
        return self.cls(*values)


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        hints = typing.get_type_hints(cls, include_extras=True)
        fs = [f for f in dataclasses.fields(cls) if f.init]
        compiled = [_compile(hints[f.name]) for f in fs]
        plan = _Plan(
            cls,
            tuple(f.name for f in fs),
            tuple(c[0] for c in compiled),
            tuple(c[1] for c in compiled),
        )
        _PLANS[cls] = plan
    return plan


def to_plain(obj: Wire) -> list[Any]:
    """The plain list tree of an object (what msgpack encodes)."""
    return _plan(type(obj)).to_plain(obj, "")


def from_plain(cls: type[W], plain: Any) -> W:
    """Rebuild an object from its plain list tree, checking every field.

    Two decoders with the same checks: a fast one that tracks no field path (building
    a path string per field was most of a transaction's decoding time), and, only when
    it refuses, the one above, which raises the error naming the field."""
    try:
        fast: W = _fast_plan(cls)(plain)
        return fast
    except Exception:  # noqa: BLE001 - the path-tracking decoder raises the precise error
        pass
    obj: W = _plan(cls).from_plain(plain, "")
    return obj


class _Refused(Exception):
    """The fast decoder's only signal: the input breaks a rule (the slow one says which)."""


_FastFrom = Callable[[Any], Any]
_FAST: dict[type, _FastFrom] = {}


def _fast_plan(cls: type) -> _FastFrom:
    fn = _FAST.get(cls)
    if fn is None:
        _plan(cls)  # the checked plan first: a type it refuses is refused here too
        hints = typing.get_type_hints(cls, include_extras=True)
        fns = tuple(_compile_fast(hints[f.name]) for f in dataclasses.fields(cls) if f.init)
        n = len(fns)

        def build(v: Any) -> Any:
            if type(v) is not list or len(v) != n:
                raise _Refused
            return cls(*[f(x) for f, x in zip(fns, v)])  # noqa: B905 - lengths checked

        fn = _FAST[cls] = build
    return fn


def _compile_fast(tp: Any) -> _FastFrom:
    """``_compile``'s from-functions, the same checks in the same order, without paths."""
    constraints: tuple[Any, ...] = ()
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, constraints = args[0], tuple(args[1:])
    size = next((c.n for c in constraints if isinstance(c, Size)), None)
    maxlen = next((c.n for c in constraints if isinstance(c, MaxLen)), None)
    rng = next((c for c in constraints if isinstance(c, Range)), None)
    origin = typing.get_origin(tp)
    if tp is bool:

        def f_bool(v: Any) -> Any:
            if type(v) is not bool:
                raise _Refused
            return v

        return f_bool
    if tp is int:
        lo, hi = (rng.lo, rng.hi) if rng else (INT_MIN, INT_MAX)

        def f_int(v: Any) -> Any:
            if type(v) is not int or not lo <= v <= hi:
                raise _Refused
            return v

        return f_int
    if tp is bytes or tp is str:
        want = tp
        top = maxlen if maxlen is not None else -1

        def f_seq(v: Any) -> Any:
            if type(v) is not want:
                raise _Refused
            n = len(v)
            if (size is not None and n != size) or (top >= 0 and n > top):
                raise _Refused
            return v

        return f_seq
    if origin is tuple:
        item = _compile_fast(typing.get_args(tp)[0])
        top_items = maxlen if maxlen is not None else -1

        def f_tuple(v: Any) -> Any:
            if type(v) is not list or (top_items >= 0 and len(v) > top_items):
                raise _Refused
            return tuple([item(x) for x in v])

        return f_tuple
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(tp)
        if type(None) in members:
            rest = tuple(m for m in members if m is not type(None))
            inner = _compile_fast(rest[0] if len(rest) == 1 else Union[rest])  # noqa: UP007

            def f_opt(v: Any) -> Any:
                return None if v is None else inner(v)

            return f_opt
        by_tag = {m.TAG: m for m in members}

        def f_union(v: Any) -> Any:
            if type(v) is not list or len(v) != 2 or type(v[0]) is not int:
                raise _Refused
            cls = by_tag.get(v[0])
            if cls is None:
                raise _Refused
            return _fast_plan(cls)(v[1])

        return f_union
    cls = tp  # a Wire dataclass (``_compile`` refused anything else when the plan was made)
    built: list[_FastFrom] = []  # its builder, looked up at the first call (types may nest)

    def f_obj(v: Any) -> Any:
        if not built:
            built.append(_fast_plan(cls))
        return built[0](v)

    return f_obj


def pack(plain: Any) -> bytes:
    """msgpack bytes of a plain tree (lists, ints, bools, bytes, str, None)."""
    return msgpack.packb(plain, use_bin_type=True)  # type: ignore[no-any-return]


def encode(obj: Wire) -> bytes:
    """Canonical bytes of a wire object."""
    data = pack(to_plain(obj))
    if len(data) > type(obj).MAX_SIZE:
        raise CodecError(
            ErrorCode.CODEC_OVERSIZE,
            f"{type(obj).__name__} encodes to {len(data)} bytes > {type(obj).MAX_SIZE}",
        )
    return data


def unpack(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Any:
    """Strictly parse canonical msgpack into a plain tree (no maps, no floats, no ext)."""
    if type(data) is not bytes:
        raise CodecError(ErrorCode.CODEC_WRONG_TYPE, f"expected bytes, got {_type_name(data)}")
    if len(data) > max_size:
        raise CodecError(ErrorCode.CODEC_OVERSIZE, f"{len(data)} bytes > limit {max_size}")
    try:
        plain = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
        )
    except msgpack.ExtraData as e:
        raise CodecError(ErrorCode.CODEC_TRAILING_BYTES, f"{len(e.extra)} trailing bytes") from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as e:
        raise CodecError(ErrorCode.CODEC_MALFORMED, f"not valid msgpack ({type(e).__name__})") from None
    return plain


def _check_plain(v: Any, depth: int = 0) -> None:
    """Reject value kinds the canonical form never contains (maps, floats, ext)."""
    t = type(v)
    if t is list:
        if depth > PLAIN_MAX_DEPTH:
            raise CodecError(ErrorCode.CODEC_MALFORMED, "nesting too deep")
        for x in v:
            _check_plain(x, depth + 1)
    elif t not in (int, bool, bytes, str, type(None)):
        raise CodecError(ErrorCode.CODEC_WRONG_TYPE, f"{t.__name__} is not allowed in canonical form")


def decode(cls: type[W], data: bytes) -> W:
    """Decode canonical bytes into ``cls`` or raise ``CodecError``.

    The fast decoder checks the type of every value it reads, so a tree it accepts holds
    only lists, ints, bools, bytes, str and None, as deep as ``cls`` is: exactly what
    ``_check_plain`` would accept. That scan (a third of a transaction's decoding) runs
    only when the fast decoder refuses, before the path-tracking one names the error:
    the same errors, in the same order, as scanning first."""
    plain = unpack(data, cls.MAX_SIZE)
    try:
        obj: W = _fast_plan(cls)(plain)
    except Exception:  # noqa: BLE001 - the checks below raise the precise error
        _check_plain(plain)
        obj = _plan(cls).from_plain(plain, "")
    if pack(plain) != data:
        raise CodecError(ErrorCode.CODEC_NON_CANONICAL, f"{cls.__name__} is not canonically encoded")
    return obj


def domain(kind: str) -> bytes:
    """Domain-separation prefix for one object kind or hash purpose."""
    if not kind or "\x00" in kind:
        raise ValueError("domain kind must be a non-empty string without NUL")
    return DOMAIN_PREFIX + kind.encode() + b"\x00"


def hash_bytes(kind: str, data: bytes) -> bytes:
    """SHA-256 of ``data`` under the domain of ``kind``."""
    return hashlib.sha256(domain(kind) + data).digest()


def digest(obj: Wire) -> bytes:
    """The identity hash of a wire object: SHA-256(domain(KIND) || encode(obj))."""
    kind = type(obj).KIND
    if not kind:
        raise TypeError(f"{type(obj).__name__} has no KIND; it cannot be hashed on its own")
    return hash_bytes(kind, encode(obj))
