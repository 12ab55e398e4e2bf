"""The genesis document: who may validate, observe and administer one chain.

Its canonical hash (``genesis_hash``) is the chain's identity and the
``chain_id`` inside every signature, so a signature made for one chain is
worthless on any other. ``genesis.json`` is a JSON view of the canonical
object; parsing is strict and every problem names the offending field.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Annotated, Any

from ballot_tx.block import MAX_TX_BYTES
from ballot_tx.codec import U16, U32, U64, Bytes32, MaxLen, Wire, digest, encode
from ballot_tx.errors import ErrorCode, GenesisError
from ballot_tx.keys import node_id

GENESIS_VERSION = 1
ROLES = ("admin", "registrar")
#: the largest max_block_bytes a genesis may set: half the consensus message limit (8 MiB),
#: so a PRE-PREPARE with its block always encodes
MAX_BLOCK_BYTES_LIMIT = 4 << 20
#: Authority roles a genesis may list but need not: known trustees (a directory of their
#: keys for election officials; elections still name their trustees in the manifest).
OPTIONAL_ROLES = ("trustee",)

Name = Annotated[str, MaxLen(128)]
Address = Annotated[str, MaxLen(255)]


@dataclass(frozen=True)
class Member(Wire):
    """A validator or observer node."""

    node_id: Annotated[str, MaxLen(40)]
    ed25519_public: Bytes32
    x25519_public: Bytes32
    address: Address


@dataclass(frozen=True)
class Authority(Wire):
    """A key allowed to perform one administrative role (election admin, registrar)."""

    role: Annotated[str, MaxLen(32)]
    name: Name
    ed25519_public: Bytes32
    x25519_public: Bytes32


@dataclass(frozen=True)
class ConsensusParams(Wire):
    max_block_txs: U32
    block_interval_ms: U32
    view_timeout_ms: U32
    checkpoint_interval: U32
    #: a block's transactions may total at most this many bytes (well below the 8 MiB
    #: consensus message limit, so a proposal always fits in one message)
    max_block_bytes: U32
    #: proposer-based timestamps (as CometBFT's PBTS): honest validators' clocks are
    #: within ``time_precision_ms`` of each other, and an honest primary's proposal
    #: reaches them within ``time_msg_delay_ms``; a replica prepares a new proposal only
    #: if, when it receives it, the block time is in
    #: [local - precision - msg_delay, local + precision] (``consensus.timeliness``)
    time_precision_ms: U32
    time_msg_delay_ms: U32


@dataclass(frozen=True)
class Genesis(Wire):
    KIND = "genesis"
    MAX_SIZE = 1 << 18

    version: U16
    chain_id: Name
    genesis_time_ms: U64
    validators: Annotated[tuple[Member, ...], MaxLen(100)]
    observers: Annotated[tuple[Member, ...], MaxLen(100)]
    authorities: Annotated[tuple[Authority, ...], MaxLen(32)]
    params: ConsensusParams

    @property
    def n(self) -> int:
        return len(self.validators)

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return 2 * self.f + 1

    def authority_keys(self, role: str) -> tuple[bytes, ...]:
        return tuple(a.ed25519_public for a in self.authorities if a.role == role)

    def validator_index(self, ed25519_public: bytes) -> int | None:
        for i, v in enumerate(self.validators):
            if v.ed25519_public == ed25519_public:
                return i
        return None


def genesis_hash(g: Genesis) -> bytes:
    """The chain id: SHA-256 over the genesis domain and its canonical bytes."""
    return digest(g)


def _bad(field: str, why: str) -> GenesisError:
    return GenesisError(ErrorCode.GENESIS_INVALID, f"genesis field {field}: {why}")


def validate(g: Genesis) -> None:
    """Check the rules a genesis must satisfy; raise ``GenesisError`` naming the field."""
    if g.version != GENESIS_VERSION:
        raise _bad("version", f"unsupported version {g.version}")
    if not g.chain_id.strip():
        raise _bad("chain_id", "must not be empty")
    n = len(g.validators)
    if n < 4 or (n - 1) % 3 != 0:
        raise _bad("validators", f"need n = 3f+1 validators with n >= 4, got {n}")
    # value -> where it was first seen, one table per unique field
    seen_keys: dict[bytes | str, str] = {}
    seen_ids: dict[bytes | str, str] = {}
    seen_addr: dict[bytes | str, str] = {}
    members = [("validators", i, m) for i, m in enumerate(g.validators)]
    members += [("observers", i, m) for i, m in enumerate(g.observers)]
    for group, i, m in members:
        where = f"{group}[{i}]"
        if m.node_id != node_id(m.ed25519_public):
            raise _bad(f"{where}.node_id", "does not match ed25519_public")
        for name, seen, value in (
            ("ed25519_public", seen_keys, m.ed25519_public),
            ("node_id", seen_ids, m.node_id),
            ("address", seen_addr, m.address),
        ):
            if value in seen:
                raise _bad(f"{where}.{name}", f"duplicates {seen[value]}")
            seen[value] = where
        _check_address(f"{where}.address", m.address)
        _check_point(f"{where}.ed25519_public", m.ed25519_public)
    for i, a in enumerate(g.authorities):
        if a.role not in ROLES + OPTIONAL_ROLES:
            raise _bad(f"authorities[{i}].role", f"must be one of {', '.join(ROLES + OPTIONAL_ROLES)}")
        _check_point(f"authorities[{i}].ed25519_public", a.ed25519_public)
    for role in ROLES:
        if not g.authority_keys(role):
            raise _bad("authorities", f"no {role} key")
    p = g.params
    if p.max_block_txs < 1:
        raise _bad("params.max_block_txs", "must be >= 1")
    if p.view_timeout_ms < 100:
        raise _bad("params.view_timeout_ms", "must be >= 100")
    if p.checkpoint_interval < 1:
        raise _bad("params.checkpoint_interval", "must be >= 1")
    if not MAX_TX_BYTES <= p.max_block_bytes <= MAX_BLOCK_BYTES_LIMIT:
        raise _bad("params.max_block_bytes", f"must be in [{MAX_TX_BYTES}, {MAX_BLOCK_BYTES_LIMIT}] (a block must hold the largest transaction)")
    if not 1 <= p.time_precision_ms <= 60_000:
        raise _bad("params.time_precision_ms", "must be in [1, 60000]")
    if not 1 <= p.time_msg_delay_ms <= 60_000:
        raise _bad("params.time_msg_delay_ms", "must be in [1, 60000]")


def _check_address(field: str, addr: str) -> None:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(field, f"{addr!r} is not host:port")


def _check_point(field: str, pk: bytes) -> None:
    import nacl.bindings

    if not nacl.bindings.crypto_core_ed25519_is_valid_point(pk):
        raise _bad(field, "not a valid Ed25519 public key")


# --- JSON view -----------------------------------------------------------------


def _member_json(m: Member) -> dict[str, Any]:
    return {
        "node_id": m.node_id,
        "ed25519_public": m.ed25519_public.hex(),
        "x25519_public": m.x25519_public.hex(),
        "address": m.address,
    }


def to_json(g: Genesis) -> str:
    doc = {
        "version": g.version,
        "chain_id": g.chain_id,
        "genesis_time_ms": g.genesis_time_ms,
        "validators": [_member_json(m) for m in g.validators],
        "observers": [_member_json(m) for m in g.observers],
        "authorities": [
            {
                "role": a.role,
                "name": a.name,
                "ed25519_public": a.ed25519_public.hex(),
                "x25519_public": a.x25519_public.hex(),
            }
            for a in g.authorities
        ],
        "params": {
            "max_block_txs": g.params.max_block_txs,
            "block_interval_ms": g.params.block_interval_ms,
            "view_timeout_ms": g.params.view_timeout_ms,
            "checkpoint_interval": g.params.checkpoint_interval,
            "max_block_bytes": g.params.max_block_bytes,
            "time_precision_ms": g.params.time_precision_ms,
            "time_msg_delay_ms": g.params.time_msg_delay_ms,
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


class _Reader:
    """Strict JSON field access that names the field in every error."""

    def __init__(self, doc: Any, path: str) -> None:
        if not isinstance(doc, dict):
            raise _bad(path or "(top)", "expected an object")
        self.doc, self.path = doc, path

    def _p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def done(self, keys: tuple[str, ...]) -> None:
        extra = sorted(set(self.doc) - set(keys))
        if extra:
            raise _bad(self._p(extra[0]), "unknown field")

    def get(self, key: str) -> Any:
        if key not in self.doc:
            raise _bad(self._p(key), "missing")
        return self.doc[key]

    def int(self, key: str) -> int:
        v = self.get(key)
        if type(v) is not int or v < 0:
            raise _bad(self._p(key), "expected a non-negative integer")
        return v

    def str(self, key: str) -> str:
        v = self.get(key)
        if type(v) is not str:
            raise _bad(self._p(key), "expected a string")
        return v

    def hex32(self, key: builtins.str) -> bytes:
        v = self.str(key)
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise _bad(self._p(key), "expected 64 hex characters")
        return raw

    def list(self, key: builtins.str) -> list[Any]:
        v = self.get(key)
        if type(v) is not list:
            raise _bad(self._p(key), "expected a list")
        return v


def _member_from(doc: Any, path: str) -> Member:
    reader = _Reader(doc, path)
    keys = ("node_id", "ed25519_public", "x25519_public", "address")
    reader.done(keys)
    return Member(reader.str("node_id"), reader.hex32("ed25519_public"), reader.hex32("x25519_public"), reader.str("address"))


def from_json(text: str) -> Genesis:
    """Parse and validate ``genesis.json``; raise ``GenesisError`` naming the field."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise GenesisError(ErrorCode.GENESIS_INVALID, f"genesis is not valid JSON: {e}") from None
    reader = _Reader(doc, "")
    reader.done(
        ("version", "chain_id", "genesis_time_ms", "validators", "observers", "authorities", "params")
    )
    auths = []
    for i, a in enumerate(reader.list("authorities")):
        ar = _Reader(a, f"authorities[{i}]")
        ar.done(("role", "name", "ed25519_public", "x25519_public"))
        auths.append(
            Authority(ar.str("role"), ar.str("name"), ar.hex32("ed25519_public"), ar.hex32("x25519_public"))
        )
    pr = _Reader(reader.get("params"), "params")
    pkeys = (
        "max_block_txs",
        "block_interval_ms",
        "view_timeout_ms",
        "checkpoint_interval",
        "max_block_bytes",
        "time_precision_ms",
        "time_msg_delay_ms",
    )
    pr.done(pkeys)
    g = Genesis(
        version=reader.int("version"),
        chain_id=reader.str("chain_id"),
        genesis_time_ms=reader.int("genesis_time_ms"),
        validators=tuple(_member_from(m, f"validators[{i}]") for i, m in enumerate(reader.list("validators"))),
        observers=tuple(_member_from(m, f"observers[{i}]") for i, m in enumerate(reader.list("observers"))),
        authorities=tuple(auths),
        params=ConsensusParams(*(pr.int(k) for k in pkeys)),
    )
    try:
        encode(g)  # enforces the codec's lengths and ranges too
    except Exception as e:
        raise GenesisError(ErrorCode.GENESIS_INVALID, f"genesis out of bounds: {e}") from None
    validate(g)
    return g
