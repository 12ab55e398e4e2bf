"""The canonical codec: round trips, strictness, stable error codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.codec import (
    U8,
    U64,
    Bytes32,
    Bytes64,
    MaxLen,
    Range,
    Wire,
    decode,
    digest,
    encode,
    hash_bytes,
    to_plain,
)
from ballot_tx.errors import CodecError, ErrorCode
from ballot_tx.keys import KeyPair, verify
from tests.strategies import wire


@dataclass(frozen=True)
class Leaf(Wire):
    TAG = 1
    value: U64
    note: Annotated[str, MaxLen(16)]


@dataclass(frozen=True)
class Other(Wire):
    TAG = 2
    blob: Annotated[bytes, MaxLen(8)]


@dataclass(frozen=True)
class Sample(Wire):
    KIND = "test/sample"
    MAX_SIZE = 4096
    flag: bool
    small: U8
    signed: int
    key: Bytes32
    label: Annotated[str, MaxLen(40)]
    items: Annotated[tuple[Leaf, ...], MaxLen(5)]
    maybe: Leaf | None
    variant: Leaf | Other
    level: Annotated[int, Range(0, 100)]


@dataclass(frozen=True)
class SignedSample(Wire):
    KIND = "test/signed-sample"
    body: Sample
    signer: Bytes32
    signature: Bytes64


CHAIN = bytes(range(32))
SIGNER = KeyPair.from_seed(b"\x01" * 32)


def sign_sample(s: Sample) -> SignedSample:
    return SignedSample(s, SIGNER.ed25519_public, SIGNER.sign("test", CHAIN, encode(s)))


def check_signed(data: bytes) -> bool:
    """What a verifier does with received bytes: decode strictly, then check the signature."""
    obj = decode(SignedSample, data)
    return verify(obj.signer, "test", CHAIN, encode(obj.body), obj.signature)


def a_sample() -> Sample:
    return Sample(True, 7, -3, b"k" * 32, "hello", (Leaf(1, "a"),), None, Other(b"xy"), 50)


@given(wire(Sample))
def test_roundtrip(s: Sample) -> None:
    data = encode(s)
    assert decode(Sample, data) == s
    assert encode(decode(Sample, data)) == data


@given(wire(Sample))
def test_hash_is_domain_separated_and_deterministic(s: Sample) -> None:
    assert digest(s) == hash_bytes("test/sample", encode(s))
    assert digest(s) != hash_bytes("test/other", encode(s))


@given(wire(Sample), st.data())
def test_every_single_byte_mutation_is_caught(s: Sample, data: st.DataObject) -> None:
    signed = encode(sign_sample(s))
    assert check_signed(signed)
    for i in range(len(signed)):
        delta = data.draw(st.integers(1, 255), label=f"delta@{i}")
        mutated = bytearray(signed)
        mutated[i] ^= delta
        try:
            ok = check_signed(bytes(mutated))
        except CodecError:
            continue
        assert not ok, f"mutation at byte {i} was accepted"


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_codec_error(data: bytes) -> None:
    try:
        decode(Sample, data)
    except CodecError:
        pass


@given(wire(Sample), st.binary(min_size=1, max_size=8))
def test_trailing_bytes(s: Sample, extra: bytes) -> None:
    with pytest.raises(CodecError) as e:
        decode(Sample, encode(s) + extra)
    assert e.value.code in (ErrorCode.CODEC_TRAILING_BYTES, ErrorCode.CODEC_OVERSIZE)


def plain() -> list[object]:
    return to_plain(a_sample())


def raw(p: object) -> bytes:
    return msgpack.packb(p, use_bin_type=True)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p: p[:-1], ErrorCode.CODEC_FIELD_COUNT),
        (lambda p: [*p, 1], ErrorCode.CODEC_FIELD_COUNT),
        (lambda p: [1, *p[1:]], ErrorCode.CODEC_WRONG_TYPE),  # int where bool
        (lambda p: [p[0], 256, *p[2:]], ErrorCode.CODEC_OUT_OF_RANGE),  # U8 overflow
        (lambda p: [*p[:3], b"short", *p[4:]], ErrorCode.CODEC_OUT_OF_RANGE),  # Bytes32
        (lambda p: [*p[:4], b"bytes-not-str", *p[5:]], ErrorCode.CODEC_WRONG_TYPE),
        (lambda p: [*p[:5], [[1, "a"]] * 6, *p[6:]], ErrorCode.CODEC_OUT_OF_RANGE),
        (lambda p: [*p[:7], [9, [b"x"]], *p[8:]], ErrorCode.CODEC_UNKNOWN_TAG),
        (lambda p: [*p[:8], 101], ErrorCode.CODEC_OUT_OF_RANGE),
        (lambda p: [*p[:8], 1.5], ErrorCode.CODEC_WRONG_TYPE),  # float
        (lambda p: [*p[:8], {"a": 1}], ErrorCode.CODEC_WRONG_TYPE),  # map
        (lambda p: {"not": "a list"}, ErrorCode.CODEC_WRONG_TYPE),
    ],
)
def test_strict_decoding_codes(mutate, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CodecError) as e:
        decode(Sample, raw(mutate(plain())))
    assert e.value.code == code


def test_non_canonical_int_is_rejected() -> None:
    good = encode(a_sample())
    # the field `small` = 7 is the positive fixint 0x07; encode it as uint8 0xcc 0x07 instead
    assert good.startswith(bytes([0x99, 0xC3, 0x07]))  # array of 9, true, fixint 7
    bad = bytes([0x99, 0xC3, 0xCC, 0x07]) + good[3:]
    assert msgpack.unpackb(bad) == msgpack.unpackb(good)  # same value, other encoding
    with pytest.raises(CodecError) as e:
        decode(Sample, bad)
    assert e.value.code == ErrorCode.CODEC_NON_CANONICAL


def test_non_canonical_bin_as_str_is_rejected() -> None:
    p = plain()
    p[4] = "hello"
    assert decode(Sample, raw(p)).label == "hello"
    # str8 form (0xd9) for a 5-char string whose canonical form is fixstr (0xa5)
    data = raw(p).replace(b"\xa5hello", b"\xd9\x05hello")
    with pytest.raises(CodecError) as e:
        decode(Sample, data)
    assert e.value.code == ErrorCode.CODEC_NON_CANONICAL


def test_oversize_is_rejected_before_parsing() -> None:
    with pytest.raises(CodecError) as e:
        decode(Sample, b"\x90" * 5000)
    assert e.value.code == ErrorCode.CODEC_OVERSIZE


def test_encode_refuses_invalid_values() -> None:
    with pytest.raises(CodecError):
        encode(Sample(True, 300, 0, b"k" * 32, "", (), None, Other(b""), 0))
    with pytest.raises(CodecError):
        encode(Sample(True, 1, 0, b"k" * 31, "", (), None, Other(b""), 0))


def test_malformed_msgpack() -> None:
    with pytest.raises(CodecError) as e:
        decode(Sample, b"\xc1")  # never-used msgpack byte
    assert e.value.code == ErrorCode.CODEC_MALFORMED
    with pytest.raises(CodecError) as e:
        decode(Sample, b"\x99\xc3")  # truncated
    assert e.value.code == ErrorCode.CODEC_MALFORMED


def test_deep_nesting_is_rejected() -> None:
    data = b"\x91" * 1000 + b"\x90"
    with pytest.raises(CodecError):
        decode(Sample, data)


def test_every_code_has_a_description() -> None:
    from ballot_tx.errors import CODES

    assert set(CODES) == set(ErrorCode)
    assert all(CODES[c].strip() for c in ErrorCode)


def test_every_code_belongs_to_a_guide_group() -> None:
    from ballot_tx.error_guide import ACTIONS, group_of

    for code in ErrorCode:
        assert group_of(code).action.strip()
    assert all(code in ErrorCode and text.strip() for code, text in ACTIONS.items())


def _mutations(v: object) -> list[object]:
    """Plain values that break one rule each (type, length, range, tag, field count)."""
    if isinstance(v, list):
        return [v[:-1], [*v, 0], {}, None, 1.5]
    if isinstance(v, bool):
        return [int(v), None]
    if isinstance(v, int):
        return [-(2**70), 2**70, 256, -1, True, b"1"]
    if isinstance(v, bytes):
        return [v + b"\x00", v[:-1], v.decode("latin-1"), 0]
    if isinstance(v, str):
        return [v.encode(), v + "x" * 50, 0]
    return [0, b"", [], 1.5]


def _paths(v: object, at: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [at]
    if isinstance(v, list):
        for i, x in enumerate(v):
            out += _paths(x, (*at, i))
    return out


def _replace(v: object, at: tuple[int, ...], new: object) -> object:
    if not at:
        return new
    assert isinstance(v, list)
    return [_replace(x, at[1:], new) if i == at[0] else x for i, x in enumerate(v)]


@given(wire(Sample))
def test_fast_decoder_accepts_exactly_what_the_checked_one_accepts(s: Sample) -> None:
    """``from_plain`` decodes without field paths and falls back to the path-tracking
    decoder only on refusal: both must accept the same plain trees, with equal results."""
    from ballot_tx.codec import _fast_plan, _plan, from_plain

    tree = to_plain(s)
    for at in _paths(tree):
        sub: object = tree
        for i in at:
            assert isinstance(sub, list)
            sub = sub[i]
        for bad in _mutations(sub):
            mutated = _replace(tree, at, bad)
            try:
                slow: object = _plan(Sample).from_plain(mutated, "")
            except CodecError as e:
                slow = e
            try:
                fast: object = _fast_plan(Sample)(mutated)
            except Exception as e:  # noqa: BLE001 - the fast decoder's refusal
                fast = e
            assert isinstance(fast, Exception) == isinstance(slow, CodecError), (at, bad)
            if not isinstance(slow, CodecError):
                assert fast == slow
            else:  # and the public entry point raises the checked decoder's error
                with pytest.raises(CodecError) as err:
                    from_plain(Sample, mutated)
                assert (err.value.code, err.value.message) == (slow.code, slow.message)
