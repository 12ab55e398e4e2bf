"""decode_tx remembers recent decodes by their bytes: the same answer as a fresh decode,
bounded, and refusals are never remembered."""

from __future__ import annotations

import pytest

from ballot_tx import tx as txmod
from ballot_tx.codec import decode, encode
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.tx import CreateElection, Tx, decode_tx
from tests.ballot_tx.state.helpers import ADMIN
from tests.ballot_tx.state.world import World


def test_a_remembered_decode_equals_a_fresh_one_and_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    w = World()
    e = w.open_election(w.manifest(), 3)
    raws = [encode(w.tx(ADMIN, CreateElection(w.manifest())))]
    raws += [encode(w.cast(e, v)) for v in e.voters[:3]]
    monkeypatch.setattr(txmod, "DECODED_MAX", 2)
    monkeypatch.setattr(txmod, "_DECODED", {})
    monkeypatch.setattr(txmod, "_decoded_bytes", 0)
    for raw in raws:
        first = decode_tx(raw)
        assert decode_tx(bytes(bytearray(raw))) is first  # equal bytes, another object: remembered
        assert first == decode(Tx, raw) and encode(first) == raw
        assert len(txmod._DECODED) <= 2
    assert decode_tx(raws[0]) is not None and raws[0] in txmod._DECODED  # decoded afresh after eviction
    assert txmod._decoded_bytes == sum(len(r) for r in txmod._DECODED)
    # the byte bound: room for one ballot only
    monkeypatch.setattr(txmod, "DECODED_MAX", 100)
    monkeypatch.setattr(txmod, "DECODED_MAX_BYTES", max(len(r) for r in raws[1:]) + 1)
    for raw in raws[1:]:
        decode_tx(raw)
        assert list(txmod._DECODED) == [raw]
        assert txmod._decoded_bytes == len(raw) <= txmod.DECODED_MAX_BYTES


def test_a_refusal_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(txmod, "_DECODED", {})
    monkeypatch.setattr(txmod, "_decoded_bytes", 0)
    for _ in range(2):
        with pytest.raises(TxError) as err:
            decode_tx(b"\x94\x01")
        assert err.value.code == ErrorCode.TX_MALFORMED
    assert txmod._DECODED == {}
