"""``registered-key``: the registrar registers pseudonymous voter keys, one per ID card.

Off chain, the registrar checks the voter's ID card (the My Number Card model,
``idcard.py``: an X.509 certificate from the card authority signs the voter's
pseudonymous key) and computes ``card_tag``, a keyed hash of the holder's
normalised name and date of birth (read from the certificate) under a registrar
secret and the election id. On chain appear only the voter key and the tag: the
tag is unique per election (one person, one registration, even with a re-issued
card), reveals no identity, and tags of one person in two elections are unlinkable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import Bytes32, MaxLen, Wire
from ballot_tx.eligibility.base import NewVoter, RegistrationPlan, check_voter_key
from ballot_tx.errors import ErrorCode, TxError

#: Most registrations in one transaction (keeps a transaction well under its size limit).
MAX_BATCH = 1000


@dataclass(frozen=True)
class KeyEntry(Wire):
    voter_key: Bytes32
    card_tag: Bytes32


@dataclass(frozen=True)
class RegisterKeys(Wire):
    """Registrar: make these pseudonymous voter keys eligible in the election."""

    TAG = 6
    election_id: Bytes32
    entries: Annotated[tuple[KeyEntry, ...], MaxLen(MAX_BATCH)]


class RegisteredKey:
    name = "registered-key"
    registration: type[Wire] = RegisterKeys

    def plan(self, body: Wire) -> RegistrationPlan:
        assert isinstance(body, RegisterKeys)
        if not body.entries:
            raise TxError(ErrorCode.TX_TOO_MANY_ENTRIES, "a registration batch must not be empty")
        for i, e in enumerate(body.entries):
            check_voter_key(e.voter_key, f"entries[{i}].voter_key")
        return RegistrationPlan(
            tuple(NewVoter(e.voter_key, single_use=False, card_tag=e.card_tag) for e in body.entries)
        )
