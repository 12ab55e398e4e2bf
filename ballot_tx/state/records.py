"""The state's records: what is stored, under which key, in which encoding.

State is a set of (key, value) records, each value a canonical encoding, so two
machines that applied the same blocks hold byte-identical records (``eid`` =
election id, 32 bytes; integers big-endian):

=========================  ==========================================================
``E`` eid                  ``ElectionStatus``: phase, joint key, counters
``M`` eid                  the ``Manifest`` (written once)
``C`` eid u8(i)            trustee i's ``TrusteeCommitment``
``S`` eid u8(i)            trustee i's ``TrusteeShares`` (its encrypted shares)
``Q`` eid u8(i) u8(j)      trustee j's complaint against dealer i
``A`` eid u8(i) u8(j)      dealer i's reveal of its share for j, answering it
``K`` eid u8(i) u8(j)      trustee j's acknowledgement of dealer i's shares (their digest)
``V`` eid voter_key        ``VoterRecord``: eligibility and ballots cast
``G`` eid card_tag         the voter key registered with that ID card tag
``B`` eid voter_key        the counted ballot's ciphertexts (re-voting elections only)
``P`` eid digest           the spoil tx hash: a spoiled ballot's ciphertexts
                           (``ciphertexts_digest``), which can never be cast
``T`` eid                  the running ``EncryptedTally`` of counted ballots
``D`` eid u8(i)            trustee i's ``DecryptionShare`` of the final tally
``R`` eid                  the published ``TallyResult``
``X`` tx_hash              u64(expires_ms): included transactions (replay guard)
``O``                      ``OpenElections``: ids of open elections (auto-close)
=========================  ==========================================================

Every other module of the package reads and writes records only through the names
defined here, so this table is the whole layout (``docs/spec/state.md`` specifies it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, TypeVar

from ballot_tx.codec import U8, U32, U64, Bytes32, MaxLen, Wire, decode, hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.manifest import (
    Manifest,
    contest_width,
)

W = TypeVar("W", bound=Wire)


class Phase(IntEnum):
    CEREMONY = 0  # created: trustees run the key ceremony, registrar registers voters
    OPEN = 1  # ballots accepted inside [start_ms, end_ms)
    CLOSED = 2  # no more ballots; trustees post decryption shares
    DECIDED = 3  # the result is published and verified


PHASE_NAMES = {p: p.name.lower() for p in Phase}


@dataclass(frozen=True)
class ElectionStatus(Wire):
    phase: U8
    joint_key: Bytes32 | None
    qualified: Annotated[tuple[U8, ...], MaxLen(255)]  # GJKR qualified trustees, fixed at open
    code_salt: Bytes32 | None
    registered: U64
    ballots_cast: U64  # accepted cast transactions, re-votes included
    voters_voted: U64  # distinct voters with a counted ballot
    spoiled: U64
    closed_ms: U64 | None
    cancelled: U64 = 0  # voters whose internet vote a paper vote cancelled


@dataclass(frozen=True)
class VoterRecord(Wire):
    single_use: bool
    card_tag: Bytes32 | None
    ballots: U32
    counted: Bytes32 | None  # hash of the transaction whose ballot counts
    spoils: U32 = 0
    counted_ciphertexts: Bytes32 | None = None  # ``ciphertexts_digest`` of the counted ballot
    cancelled: bool = False  # voted on paper: no internet ballot counts or may be cast


@dataclass(frozen=True)
class OpenElections(Wire):
    ids: Annotated[tuple[Bytes32, ...], MaxLen(10_000)]


def _k(prefix: bytes, *parts: bytes) -> bytes:
    return prefix + b"".join(parts)


def _i(i: int) -> bytes:
    return bytes([i])


KEY_OPEN = b"O"


def _decode_opt(cls: type[W], data: bytes | None) -> W | None:
    return None if data is None else decode(cls, data)


def _commitments(
    get: Callable[[bytes], bytes | None], eid: bytes, indices: tuple[int, ...] | list[int]
) -> list[trustee_crypto.TrusteeCommitment]:
    out = []
    for i in indices:
        c = _decode_opt(trustee_crypto.TrusteeCommitment, get(_k(b"C", eid, _i(i))))
        assert c is not None
        out.append(c)
    return out


def ciphertexts_digest(b: ballot_crypto.EncryptedBallot) -> bytes:
    """What ties a spoiled ballot to a cast one: its ciphertexts only, so new proofs (for
    the same or another voter key: whoever knows the revealed randomness can make them)
    do not make them new. Bit 255 of each point encoding is cleared first: libsodium
    1.0.18 ignores it, so a set bit would otherwise be a second spelling of the same
    ciphertext (issue 11, attack 4)."""
    parts = bytearray()
    for c in b.contests:
        for ct in c.ciphertexts:
            for p in (ct.alpha, ct.beta):
                parts += p[:31] + bytes([p[31] & 0x7F])
    return hash_bytes("state/ballot-ciphertexts", bytes(parts))


def _ciphertext_bytes(b: ballot_crypto.EncryptedBallot) -> bytes:
    """A counted ballot as kept for re-voting: its ciphertexts only, alpha||beta, in
    ballot order (the proofs were checked when it was cast and are in its block)."""
    return b"".join(ct.alpha + ct.beta for c in b.contests for ct in c.ciphertexts)


def _ballot_from_ciphertexts(m: Manifest, eid: bytes, data: bytes) -> ballot_crypto.EncryptedBallot:
    contests = []
    pos = 0
    for c in m.contests:
        cts = []
        for _ in range(contest_width(c)):
            cts.append(Ciphertext(data[pos : pos + 32], data[pos + 32 : pos + 64]))
            pos += 64
        contests.append(ballot_crypto.EncryptedContest(tuple(cts), (), ()))
    return ballot_crypto.EncryptedBallot(eid, tuple(contests))
