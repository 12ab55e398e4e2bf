"""Every consensus wire type round-trips through the canonical codec, and any bytes that
are not a canonical ConsensusMessage are refused with CONSENSUS_BAD_MESSAGE."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.codec import Wire, decode, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.certificate import CommitCertificate
from consensus.events import SafetyRecord
from consensus.messages import ConsensusMessage, NewView, ViewChange, decode_message
from tests.strategies import wire

TYPES: list[type[Wire]] = [ConsensusMessage, ViewChange, NewView, CommitCertificate, SafetyRecord]


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip(cls: type[Wire], data: st.DataObject) -> None:
    obj = data.draw(wire(cls, max_items=2))
    assert decode(cls, encode(obj)) == obj


@given(msg=wire(ConsensusMessage, max_items=2), cut=st.integers(1, 40), junk=st.binary(max_size=8))
def test_damaged_messages_are_refused(msg: ConsensusMessage, cut: int, junk: bytes) -> None:
    raw = encode(msg)
    for bad in (raw[:-cut] if cut < len(raw) else b"", raw + b"\x00" + junk):
        with pytest.raises(ConsensusError) as e:
            decode_message(bad)
        assert e.value.code == ErrorCode.CONSENSUS_BAD_MESSAGE
