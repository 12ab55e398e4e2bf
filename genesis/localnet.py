"""The genesis of a local test network: fresh keys for every member, loopback addresses.

``local_genesis`` is pure (the caller passes the time): it makes the keys, the members
at ``host:base_port``, ``host:base_port + 1``, ... (validators first, then observers),
the admin and registrar authorities, and the validated genesis document. Writing the
node homes that run it (key files, ``config.toml``) is ``node.homes``'s job. For a real
deployment the genesis comes from the ceremony (``genesis.ceremony``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.keys import KeyPair
from genesis.document import (
    GENESIS_VERSION,
    Authority,
    ConsensusParams,
    Genesis,
    Member,
    validate,
)

DEFAULT_BASE_PORT = 7700
DEFAULT_PARAMS = ConsensusParams(
    max_block_txs=500,
    block_interval_ms=200,
    view_timeout_ms=2000,
    checkpoint_interval=10,
    max_block_bytes=2 << 20,
    time_precision_ms=1000,
    time_msg_delay_ms=3000,
)
AUTHORITY_ROLES = ("admin", "registrar")


@dataclass(frozen=True)
class LocalGenesis:
    """A local network's genesis with every secret key it names (a test network only:
    every key was made on one machine)."""

    genesis: Genesis
    #: ``validator-0`` ... then ``observer-0`` ...: each member's key pair, in port order
    node_keys: dict[str, KeyPair]
    #: each member's ``host:port``, by the same names
    addresses: dict[str, str]
    #: ``admin`` and ``registrar``: the authorities' key pairs
    authority_keys: dict[str, KeyPair]

    @property
    def validator_addresses(self) -> list[str]:
        return [m.address for m in self.genesis.validators]


def local_genesis(
    chain_id: str,
    validators: int,
    observers: int,
    base_port: int,
    host: str,
    params: ConsensusParams,
    genesis_time_ms: int,
) -> LocalGenesis:
    """Fresh keys and a validated genesis for ``validators`` + ``observers`` loopback members."""
    plan = [("validator", i) for i in range(validators)] + [("observer", i) for i in range(observers)]
    keys = {f"{mode}-{i}": KeyPair.generate() for mode, i in plan}
    addrs = {name: f"{host}:{base_port + k}" for k, name in enumerate(keys)}
    members = {
        name: Member(kp.node_id, kp.ed25519_public, kp.x25519_public, addrs[name])
        for name, kp in keys.items()
    }
    auth_keys = {role: KeyPair.generate() for role in AUTHORITY_ROLES}
    g = Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        genesis_time_ms=genesis_time_ms,
        validators=tuple(members[f"validator-{i}"] for i in range(validators)),
        observers=tuple(members[f"observer-{i}"] for i in range(observers)),
        authorities=tuple(
            Authority(role, f"{chain_id} {role}", kp.ed25519_public, kp.x25519_public)
            for role, kp in auth_keys.items()
        ),
        params=params,
    )
    validate(g)
    return LocalGenesis(g, keys, addrs, auth_keys)
