"""The genesis ceremony: a genesis assembled from keys made on each organisation's host.

Each organisation makes its key where it will be used and hands the coordinator
only a *contribution*: its public keys, role, name and (for nodes) address,
signed with the key itself. The signature proves possession of the Ed25519
secret and binds the X25519 key, role, name and address to it, so a coordinator
can neither list a key nobody holds nor move an organisation's node to another
address or role without the result failing ``check_contribution``.

The signed bytes are ``signing_bytes("genesis-contribution", CEREMONY_ID,
encode(Contribution))``: the project's one canonical encoder, under a domain no
chain signature uses (``CEREMONY_ID`` is a domain-separated constant, never a
genesis hash). A contribution may name the chain it is for (``chain``); then it
can only be assembled into a genesis with that ``chain_id``.

Assembly is deterministic: members and authorities are ordered by node id, so
anyone holding the same contributions, chain id, parameters and genesis time
gets the same genesis hash. Pure: no files, no clock (callers pass the time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any

from ballot_tx.codec import Bytes32, MaxLen, Wire, encode, hash_bytes
from ballot_tx.errors import ErrorCode, GenesisError
from ballot_tx.keys import KeyPair, node_id, verify
from genesis.document import (
    GENESIS_VERSION,
    Address,
    Authority,
    ConsensusParams,
    Genesis,
    Member,
    Name,
    validate,
)

CONTRIBUTION_TYPE = "ballotchain-genesis-contribution"
CONTRIBUTION_VERSION = 1
SIG_KIND = "genesis-contribution"
#: The 32 bytes standing in for a chain id in contribution signatures: no chain exists yet,
#: and no genesis hash can equal a hash taken under this domain.
CEREMONY_ID = hash_bytes("genesis-ceremony", b"")
MEMBER_ROLES = ("validator", "observer")
AUTHORITY_ROLES = ("admin", "registrar", "trustee")
ROLES = MEMBER_ROLES + AUTHORITY_ROLES


@dataclass(frozen=True)
class Contribution(Wire):
    """What one organisation signs: who it is, which role, where its node listens."""

    KIND = "genesis-contribution"

    role: Annotated[str, MaxLen(32)]
    name: Name
    address: Address  # host:port for validators and observers, "" for authorities
    ed25519_public: Bytes32
    x25519_public: Bytes32
    chain: Name  # the chain_id it is for, or "" for any


@dataclass(frozen=True)
class Signed:
    contribution: Contribution
    signature: bytes

    @property
    def node_id(self) -> str:
        return node_id(self.contribution.ed25519_public)


def _err(code: ErrorCode, msg: str) -> GenesisError:
    return GenesisError(code, msg)


def normalize_address(address: str) -> str:
    """``https://host:port`` or ``host:port`` -> ``host:port``; raise if it is neither."""
    rest = address.strip()
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme not in ("http", "https"):
            raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID,
                       f"address {address!r}: scheme must be http or https")
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID,
                   f"address {address!r} is not host:port or https://host:port")
    return rest


def _check_role(role: str, address: str) -> None:
    if role not in ROLES:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_ROLE,
                   f"role {role!r} is not one of {', '.join(ROLES)}")
    if role in MEMBER_ROLES and not address:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_ROLE, f"a {role} needs --address https://host:port")
    if role in AUTHORITY_ROLES and address:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_ROLE, f"a {role} runs no node: give no address")


def contribute(keys: KeyPair, role: str, name: str, address: str = "", chain: str = "") -> Signed:
    """Make and sign a contribution with ``keys`` (which never leave the caller)."""
    addr = normalize_address(address) if address else ""
    _check_role(role, addr)
    if not name.strip():
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID, "name must not be empty")
    c = Contribution(role, name, addr, keys.ed25519_public, keys.x25519_public, chain)
    try:
        body = encode(c)
    except Exception as e:  # a codec bound (name or address too long)
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID, f"contribution out of bounds: {e}") from None
    return Signed(c, keys.sign(SIG_KIND, CEREMONY_ID, body))


def check_contribution(s: Signed) -> None:
    """Raise unless ``s`` is well formed and signed by the key it lists."""
    c = s.contribution
    _check_role(c.role, c.address)
    if c.address and normalize_address(c.address) != c.address:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID, f"address {c.address!r} is not host:port")
    try:
        body = encode(c)
    except Exception as e:
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID, f"contribution out of bounds: {e}") from None
    if not verify(c.ed25519_public, SIG_KIND, CEREMONY_ID, body, s.signature):
        raise _err(ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE,
                   f"the {c.role} contribution of {c.name!r} is not signed by its key "
                   f"{s.node_id} (altered after signing, or the key is not held)")


# --- JSON file ------------------------------------------------------------------------------


def to_json(s: Signed) -> str:
    c = s.contribution
    doc = {
        "type": CONTRIBUTION_TYPE,
        "version": CONTRIBUTION_VERSION,
        "role": c.role,
        "name": c.name,
        "address": c.address,
        "chain": c.chain,
        "node_id": s.node_id,
        "ed25519_public": c.ed25519_public.hex(),
        "x25519_public": c.x25519_public.hex(),
        "signature": s.signature.hex(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def from_json(text: str, source: str = "contribution") -> Signed:
    """Parse and check one contribution file; every error names ``source``."""

    def bad(why: str) -> GenesisError:
        return _err(ErrorCode.GENESIS_CONTRIBUTION_INVALID, f"{source}: {why}")

    try:
        doc = json.loads(text)
    except ValueError:
        raise bad("not JSON") from None
    if not isinstance(doc, dict) or doc.get("type") != CONTRIBUTION_TYPE:
        raise bad(f"missing type {CONTRIBUTION_TYPE!r}")
    if doc.get("version") != CONTRIBUTION_VERSION:
        raise bad(f"unsupported version {doc.get('version')!r}")
    keys = {"type", "version", "role", "name", "address", "chain", "node_id",
            "ed25519_public", "x25519_public", "signature"}
    if set(doc) != keys:
        extra = sorted(set(doc) ^ keys)
        raise bad(f"field {extra[0]} is {'unknown' if extra[0] in doc else 'missing'}")
    for k in ("role", "name", "address", "chain", "node_id"):
        if type(doc[k]) is not str:
            raise bad(f"field {k}: expected a string")

    def hexb(k: str, n: int) -> bytes:
        try:
            raw = bytes.fromhex(doc[k]) if type(doc[k]) is str else b""
        except ValueError:
            raw = b""
        if len(raw) != n:
            raise bad(f"field {k}: expected {2 * n} hex characters")
        return raw

    c = Contribution(doc["role"], doc["name"], doc["address"], hexb("ed25519_public", 32),
                     hexb("x25519_public", 32), doc["chain"])
    s = Signed(c, hexb("signature", 64))
    if doc["node_id"] != s.node_id:
        raise bad("field node_id does not match ed25519_public")
    try:
        check_contribution(s)
    except GenesisError as e:
        raise _err(e.code, f"{source}: {e.message}") from None
    return s


# --- assembly -------------------------------------------------------------------------------


def params_from(overrides: dict[str, Any], base: ConsensusParams) -> ConsensusParams:
    """``base`` with the named fields replaced; unknown names or non-integers are refused."""
    names = {f.name for f in fields(ConsensusParams)}
    for k, v in overrides.items():
        if k not in names:
            raise GenesisError(ErrorCode.GENESIS_INVALID, f"genesis field params.{k}: unknown field")
        if type(v) is not int or v < 0:
            raise GenesisError(ErrorCode.GENESIS_INVALID,
                               f"genesis field params.{k}: expected a non-negative integer")
    return replace(base, **overrides)


def assemble(
    contributions: list[tuple[str, Signed]],
    chain_id: str,
    params: ConsensusParams,
    genesis_time_ms: int,
) -> Genesis:
    """Build and validate the genesis from (source name, contribution) pairs.

    Refuses any contribution that does not check, was made for another chain,
    or repeats a key or a node address; then the genesis rules apply (n = 3f+1,
    an admin and a registrar present, ...).
    """
    seen_key: dict[bytes, str] = {}
    seen_addr: dict[str, str] = {}
    for src, s in contributions:
        c = s.contribution
        try:
            check_contribution(s)
        except GenesisError as e:
            raise _err(e.code, f"{src}: {e.message}") from None
        if c.chain and c.chain != chain_id:
            raise _err(ErrorCode.GENESIS_CONTRIBUTION_WRONG_CHAIN,
                       f"{src}: made for chain {c.chain!r}, not {chain_id!r}")
        if c.ed25519_public in seen_key:
            raise _err(ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE,
                       f"{src}: key {s.node_id} is already contributed by {seen_key[c.ed25519_public]}"
                       " (one key per role: make a new key for each)")
        seen_key[c.ed25519_public] = src
        if c.address:
            if c.address in seen_addr:
                raise _err(ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE,
                           f"{src}: address {c.address} is already used by {seen_addr[c.address]}")
            seen_addr[c.address] = src
    ordered = sorted((s for _, s in contributions), key=lambda s: (s.node_id, s.contribution.role))

    def members(role: str) -> tuple[Member, ...]:
        return tuple(
            Member(s.node_id, s.contribution.ed25519_public, s.contribution.x25519_public,
                   s.contribution.address)
            for s in ordered if s.contribution.role == role
        )

    g = Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        genesis_time_ms=genesis_time_ms,
        validators=members("validator"),
        observers=members("observer"),
        authorities=tuple(
            Authority(s.contribution.role, s.contribution.name, s.contribution.ed25519_public,
                      s.contribution.x25519_public)
            for s in ordered if s.contribution.role in AUTHORITY_ROLES
        ),
        params=params,
    )
    try:
        encode(g)
    except Exception as e:
        raise GenesisError(ErrorCode.GENESIS_INVALID, f"genesis out of bounds: {e}") from None
    validate(g)
    return g


def entry_of(g: Genesis, ed25519_public: bytes) -> tuple[str, dict[str, str]] | None:
    """This key's entry in ``g``: (role, fields), or None if the genesis does not list it."""
    for role, group in (("validator", g.validators), ("observer", g.observers)):
        for i, m in enumerate(group):
            if m.ed25519_public == ed25519_public:
                return role, {"index": str(i), "node_id": m.node_id, "address": m.address,
                              "x25519_public": m.x25519_public.hex()}
    for a in g.authorities:
        if a.ed25519_public == ed25519_public:
            return a.role, {"name": a.name, "node_id": node_id(a.ed25519_public),
                            "x25519_public": a.x25519_public.hex()}
    return None


def check_entry(g: Genesis, ed25519_public: bytes, expected: Contribution | None = None) -> str:
    """Raise unless ``g`` lists this key (as ``expected`` says, when given); return its role."""
    found = entry_of(g, ed25519_public)
    if found is None:
        raise _err(ErrorCode.GENESIS_ENTRY_MISMATCH,
                   f"the genesis does not list the key {node_id(ed25519_public)}")
    role, entry = found
    if expected is not None:
        if expected.ed25519_public != ed25519_public:
            raise _err(ErrorCode.GENESIS_ENTRY_MISMATCH, "the contribution is for another key")
        want = {"x25519_public": expected.x25519_public.hex()}
        want["address" if expected.role in MEMBER_ROLES else "name"] = (
            expected.address if expected.role in MEMBER_ROLES else expected.name)
        if role != expected.role:
            raise _err(ErrorCode.GENESIS_ENTRY_MISMATCH,
                       f"the genesis lists this key as {role}, the contribution as {expected.role}")
        for k, v in want.items():
            if entry[k] != v:
                raise _err(ErrorCode.GENESIS_ENTRY_MISMATCH,
                           f"the genesis lists this {role}'s {k} as {entry[k]!r}, "
                           f"the contribution as {v!r}")
    return role
