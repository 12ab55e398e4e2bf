"""Deterministic genesis, keys and small elections for the chain tests."""

from __future__ import annotations

from ballot_tx.keys import KeyPair
from genesis.document import GENESIS_VERSION, Authority, Genesis, Member, validate
from genesis.localnet import DEFAULT_PARAMS
from harness.scenario import Roles

GENESIS_TIME = 1_800_000_000_000


def kp(tag: str, i: int = 0) -> KeyPair:
    return KeyPair.from_seed((tag.encode() + bytes([i])).ljust(32, b"\0"))


VALIDATORS = [kp("validator", i) for i in range(4)]
ADMIN = kp("admin")
REGISTRAR = kp("registrar")
TRUSTEES = [kp("trustee", i) for i in range(3)]
ROLES = Roles(ADMIN, REGISTRAR, TRUSTEES)


def make_genesis() -> Genesis:
    g = Genesis(
        version=GENESIS_VERSION,
        chain_id="chain-test",
        genesis_time_ms=GENESIS_TIME,
        validators=tuple(
            Member(k.node_id, k.ed25519_public, k.x25519_public, f"127.0.0.1:{9000 + i}")
            for i, k in enumerate(VALIDATORS)
        ),
        observers=(),
        authorities=(
            Authority("admin", "test admin", ADMIN.ed25519_public, ADMIN.x25519_public),
            Authority("registrar", "test registrar", REGISTRAR.ed25519_public, REGISTRAR.x25519_public),
        ),
        params=DEFAULT_PARAMS,
    )
    validate(g)
    return g
