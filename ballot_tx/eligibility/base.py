"""The interface every eligibility method implements, and what a registration adds.

Kept apart from the package's ``__init__`` so that the methods (``registered_key``,
``one_time_code``, ``city_login``) import it without importing the registry of methods,
which imports them: no cycle, and ``METHODS`` is built at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import nacl.bindings

from ballot_tx.codec import Wire
from ballot_tx.errors import ErrorCode, TxError


@dataclass(frozen=True)
class NewVoter:
    """One voter key a registration makes eligible."""

    voter_key: bytes
    single_use: bool  # True: the key casts one ballot, no re-vote, no second use
    card_tag: bytes | None = None  # must be unique in the election when given


@dataclass(frozen=True)
class RegistrationPlan:
    """What a registration transaction adds; the state machine checks uniqueness and applies it."""

    voters: tuple[NewVoter, ...]
    code_salt: bytes | None = None  # one-time codes: the election's salt (set once)


class Eligibility(Protocol):
    #: the manifest's ``eligibility`` value
    name: str
    #: the registration transaction body this method accepts
    registration: type[Wire]

    def plan(self, body: Wire) -> RegistrationPlan:
        """Check a registration body on its own and say which voter keys it adds."""
        ...


def check_voter_key(key: bytes, where: str) -> None:
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(key):
        raise TxError(ErrorCode.TX_MALFORMED, f"{where}: not a valid Ed25519 public key")
