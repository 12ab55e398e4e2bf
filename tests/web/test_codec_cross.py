"""The browser codec (web/src/codec.js) against ballot_tx.codec, byte for byte and code for code.

Python encodes random objects of every field kind; the JavaScript decoder must
accept them, re-encode them to the same bytes and hash them the same. Every
mutation of those bytes, and arbitrary msgpack-like input, must get the same
verdict (accepted, or rejected with the same error code) from both decoders.
"""

from __future__ import annotations

from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from ballot_tx.codec import _check_plain, decode, digest, encode, unpack
from ballot_tx.errors import CodecError
from tests.ballot_tx.test_codec import Sample
from tests.conftest import thorough
from tests.strategies import wire
from tests.web.jsbridge import run_js, schema_for

SCHEMA = schema_for(Sample)
BATCHES = 40 if thorough() else 4
#: Each example is a batch run in one Node process; a failing batch names its input,
#: so shrinking (hundreds of Node runs) is not worth its time.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def py_decode(data: bytes) -> dict[str, Any]:
    try:
        obj = decode(Sample, data)
    except CodecError as e:
        return {"error": str(e.code)}
    return {"ok": {"reencoded": encode(obj).hex(), "digest": digest(obj).hex()}}


def py_unpack(data: bytes, max_size: int) -> dict[str, Any]:
    try:
        _check_plain(unpack(data, max_size))
    except CodecError as e:
        return {"error": str(e.code)}
    return {"ok": True}


def verdicts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "message"} for r in results]


def mutations(data: bytes, draw: Any) -> list[bytes]:
    """Single-byte flips, sets, inserts, deletes, truncations and appends at drawn places."""
    out = []
    for _ in range(12):
        i = draw(st.integers(0, len(data) - 1))
        b = draw(st.integers(0, 255))
        kind = draw(st.sampled_from(["xor", "set", "insert", "delete", "truncate", "append"]))
        if kind == "xor":
            out.append(data[:i] + bytes([data[i] ^ (b or 1)]) + data[i + 1 :])
        elif kind == "set":
            out.append(data[:i] + bytes([b]) + data[i + 1 :])
        elif kind == "insert":
            out.append(data[:i] + bytes([b]) + data[i:])
        elif kind == "delete":
            out.append(data[:i] + data[i + 1 :])
        elif kind == "truncate":
            out.append(data[:i])
        else:
            out.append(data + bytes([b]))
    return out


@settings(max_examples=BATCHES, phases=NO_SHRINK)
@given(st.lists(wire(Sample), min_size=1, max_size=25), st.data())
def test_js_decodes_python_encodings_and_agrees_on_every_mutation(
    samples: list[Sample], data: st.DataObject
) -> None:
    cases: list[bytes] = []
    for s in samples:
        enc = encode(s)
        cases.append(enc)
        cases += mutations(enc, data.draw)
    reqs = [{"op": "decode", "schema": SCHEMA, "cls": "Sample", "hex": c.hex()} for c in cases]
    got = verdicts(run_js(reqs))
    want = [py_decode(c) for c in cases]
    for c, g, w in zip(cases, got, want, strict=True):
        assert g == w, f"input {c.hex()}: JS {g} != Python {w}"
    # The unmutated encodings are all accepted and come back identical.
    assert all("ok" in want[i * 13] for i in range(len(samples)))


TOKENS = [
    b"\x81\xa1a", b"\x81\x01", b"\x81\xc4\x01k", b"\x91", b"\x92", b"\x90", b"\x80",
    b"\xdc\x00\x02", b"\xde\x00\x01", b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff", b"\xc7\x04\xff",
    b"\xd4\x05", b"\xd4\xfe", b"\xc7\x01\x80", b"\xca", b"\xcb", b"\xa2\xed\xa0", b"\xa2\xc3\xa9", b"\xc4\x03", b"\xd9\x01",
    b"\xc1", b"\xcc", b"\xcd\x00", b"\xd0\x80", b"\xd3", b"\xcf", b"\xc0", b"\xc2", b"\xc3",
]


@settings(max_examples=BATCHES, phases=NO_SHRINK)
@given(
    st.lists(
        st.lists(
            st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=4)), max_size=12
        ).map(b"".join),
        min_size=50,
        max_size=120,
    )
)
def test_parse_stage_agrees_on_arbitrary_msgpack(inputs: list[bytes]) -> None:
    reqs = [{"op": "unpack", "hex": b.hex(), "max_size": 64} for b in inputs]
    got = verdicts(run_js(reqs))
    for b, g in zip(inputs, got, strict=True):
        assert g == py_unpack(b, 64), b.hex()


def test_parse_stage_edge_cases() -> None:
    cases = [
        b"",
        b"\x91" * 65 + b"\xc0",  # arrays 65 deep: accepted by msgpack and by the plain check
        b"\x91" * 66 + b"\xc0",  # 66 deep: too deep for the plain check
        b"\x81\xa1a" * 1024 + b"\xc0",  # maps 1024 deep: msgpack parses, then not canonical
        b"\x81\xa1a" * 1024 + b"\x80",  # 1025 containers: msgpack refuses
        b"\x81\xa1a" * 1025 + b"\xc0",
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp 32
        b"\xd7\xff" + b"\xff" * 8,  # timestamp 64 with nanoseconds >= 1e9
        b"\xd7\xff" + b"\x00" * 8,
        b"\xc7\x0c\xff" + b"\xff" * 12,
        b"\xc7\x0c\xff" + b"\x00" * 12,
        b"\xc7\x00\xff",
        b"\xc7\x00\x05",
        b"\x92\x01\x81\x01\x01",
        b"\x81\x91\x01\x02",
        b"\x81\xc0\x02",
        b"\x81\xc4\x01a\x02",
        b"\xa3\xed\xa0\x80",  # an encoded surrogate is not UTF-8
        b"\xa4\xf0\x9f\x97\xb3",
        b"\xdd\xff\xff\xff\xff",
        b"\x01\x02",
        b"\xcb" + b"\x00" * 8,
        b"\xc1",
    ]
    reqs = [{"op": "unpack", "hex": b.hex(), "max_size": 1 << 20} for b in cases]
    got = verdicts(run_js(reqs))
    for b, g in zip(cases, got, strict=True):
        assert g == py_unpack(b, 1 << 20), b[:16].hex()
    assert {g.get("error") for g in got} >= {
        "CODEC_MALFORMED",
        "CODEC_WRONG_TYPE",
        "CODEC_TRAILING_BYTES",
    }


def test_oversize_is_refused_before_parsing() -> None:
    big = b"\xc4" + b"\x00" * 5000
    (res,) = run_js([{"op": "decode", "schema": SCHEMA, "cls": "Sample", "hex": big.hex()}])
    assert res["error"] == "CODEC_OVERSIZE" == py_decode(big)["error"]


def test_hash_bytes_matches_python() -> None:
    from ballot_tx.codec import hash_bytes

    cases = [("tx", b""), ("merkle/leaf", b"\x00" * 40), ("crypto/ballot", bytes(range(256)))]
    got = run_js([{"op": "hash_bytes", "kind": k, "hex": d.hex()} for k, d in cases])
    assert [g["ok"] for g in got] == [hash_bytes(k, d).hex() for k, d in cases]
