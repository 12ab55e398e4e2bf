"""What the state machine reads from genesis, computed once per chain.

``ballot_tx`` sits below the ``genesis`` package (which builds on it), so the rules
name the genesis document only through the ``GenesisView`` protocol and keep the
facts they check against (chain id, admin, registrar and validator keys) in one
frozen object every snapshot shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ballot_tx.codec import Wire, digest


class _GenesisParams(Protocol):
    @property
    def max_block_txs(self) -> int: ...
    @property
    def max_block_bytes(self) -> int: ...


class _Validator(Protocol):
    @property
    def ed25519_public(self) -> bytes: ...


class GenesisView(Protocol):
    """What the state machine reads from ``genesis.document.Genesis`` (ballot_tx does not
    import the genesis package, which builds on it)."""

    @property
    def genesis_time_ms(self) -> int: ...
    @property
    def params(self) -> _GenesisParams: ...
    @property
    def validators(self) -> tuple[_Validator, ...]: ...

    def authority_keys(self, role: str) -> tuple[bytes, ...]: ...


@dataclass(frozen=True)
class GenesisFacts:
    """What apply needs from genesis, computed once: the chain id and who holds each role."""

    genesis: GenesisView
    chain_id: bytes
    admins: frozenset[bytes]
    registrars: frozenset[bytes]
    validators: frozenset[bytes]

    @staticmethod
    def of(genesis: GenesisView) -> GenesisFacts:
        assert isinstance(genesis, Wire) and type(genesis).KIND == "genesis"
        return GenesisFacts(
            genesis,
            digest(genesis),  # the chain id: genesis.document.genesis_hash
            frozenset(genesis.authority_keys("admin")),
            frozenset(genesis.authority_keys("registrar")),
            frozenset(v.ed25519_public for v in genesis.validators),
        )
