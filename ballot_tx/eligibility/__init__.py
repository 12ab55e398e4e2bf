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

A method is an object with the ``Eligibility`` interface (``base.py``), found by the
manifest's ``eligibility`` string in ``METHODS``. Adding a method is adding a
module (and its registration transaction to ``tx.TxBody``), not editing the
state machine.
"""

from __future__ import annotations

from ballot_tx.eligibility.base import (
    Eligibility,
    NewVoter,
    RegistrationPlan,
    check_voter_key,
)
from ballot_tx.eligibility.city_login import CityLogin
from ballot_tx.eligibility.one_time_code import OneTimeCode
from ballot_tx.eligibility.registered_key import RegisteredKey
from ballot_tx.errors import ErrorCode, TxError

__all__ = ["METHODS", "Eligibility", "NewVoter", "RegistrationPlan", "check_voter_key", "method"]

#: Every eligibility method, by the name a manifest gives it.
METHODS: dict[str, Eligibility] = {
    m.name: m for m in (RegisteredKey(), OneTimeCode(), CityLogin())
}


def method(name: str) -> Eligibility:
    """The eligibility method a manifest names (manifests are validated, so it exists)."""
    m = METHODS.get(name)
    if m is None:
        raise TxError(ErrorCode.TX_WRONG_ELIGIBILITY, f"unknown eligibility method {name!r}")
    return m
