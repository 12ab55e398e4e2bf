"""Eligibility methods: who may cast a ballot in an election, one module per method.

Every ballot is signed by a voter Ed25519 key, whatever the method; a method only
decides which voter keys become eligible and how often each may be used:

* ``registered-key`` (``registered_key.py``): the registrar registers each voter's
  pseudonymous key with a keyed hash of the voter's ID card serial (computed off
  chain by ``idcard.py``, the My Number Card model), so a card registers once per
  election; re-voting follows the manifest.
* ``one-time-code`` (``one_time_code.py``): the registrar commits the public keys
  derived from mailed codes; a code's key casts exactly one ballot.
* ``city-login`` (``city_login.py``): like ``registered-key``, with the tag a keyed
  hash of the OpenID Connect issuer and subject of the city's sign-in.

A method is an object with the ``Eligibility`` interface below, found by the
manifest's ``eligibility`` string in ``METHODS``. Adding a method is adding a
module (and its registration transaction to ``tx.TxBody``), not editing the
state machine.
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


def method(name: str) -> Eligibility:
    """The eligibility method a manifest names (manifests are validated, so it exists)."""
    from ballot_tx.eligibility.city_login import CityLogin
    from ballot_tx.eligibility.one_time_code import OneTimeCode
    from ballot_tx.eligibility.registered_key import RegisteredKey

    methods: dict[str, Eligibility] = {
        RegisteredKey.name: RegisteredKey(),
        OneTimeCode.name: OneTimeCode(),
        CityLogin.name: CityLogin(),
    }
    m = methods.get(name)
    if m is None:
        raise TxError(ErrorCode.TX_WRONG_ELIGIBILITY, f"unknown eligibility method {name!r}")
    return m
