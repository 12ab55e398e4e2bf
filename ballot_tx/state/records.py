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
from functools import lru_cache
from typing import Annotated, Any, TypeVar, cast

from ballot_tx.codec import U8, U32, U64, Bytes32, MaxLen, Wire, decode, hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.manifest import Manifest, contest_width

#: a record's type
W = TypeVar("W", bound=Wire)


class Phase(IntEnum):
    """An election's phase (``ElectionStatus.phase``); each transaction names the ones it needs."""

    CEREMONY = 0  # created: trustees run the key ceremony, registrar registers voters
    OPEN = 1  # ballots accepted inside [start_ms, end_ms)
    CLOSED = 2  # no more ballots; trustees post decryption shares
    DECIDED = 3  # the result is published and verified


PHASE_NAMES = {p: p.name.lower() for p in Phase}


@dataclass(frozen=True)
class ElectionStatus(Wire):
    """The ``E`` record: where an election stands, and its public counters."""

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
    """The ``V`` record: one voter key's eligibility and ballots."""

    single_use: bool
    card_tag: Bytes32 | None
    ballots: U32
    counted: Bytes32 | None  # hash of the transaction whose ballot counts
    spoils: U32 = 0
    counted_ciphertexts: Bytes32 | None = None  # ``ciphertexts_digest`` of the counted ballot
    cancelled: bool = False  # voted on paper: no internet ballot counts or may be cast


@dataclass(frozen=True)
class OpenElections(Wire):
    """The ``O`` record: the ids of open elections, sorted."""

    ids: Annotated[tuple[Bytes32, ...], MaxLen(10_000)]


# --- keys: one builder per record, named after what it holds ----------------------


def _u8(index: int) -> bytes:
    """A trustee index (1..255) as the one byte the keys hold."""
    return bytes([index])


def election_key(eid: bytes) -> bytes:
    """``E`` eid: the election's ``ElectionStatus``."""
    return b"E" + eid


def manifest_key(eid: bytes) -> bytes:
    """``M`` eid: the election's ``Manifest``."""
    return b"M" + eid


def commitment_key(eid: bytes, trustee: int) -> bytes:
    """``C`` eid u8(i): trustee i's ``TrusteeCommitment``."""
    return b"C" + eid + _u8(trustee)


def shares_key(eid: bytes, dealer: int) -> bytes:
    """``S`` eid u8(i): trustee i's ``TrusteeShares``."""
    return b"S" + eid + _u8(dealer)


def complaint_key(eid: bytes, dealer: int, accuser: int) -> bytes:
    """``Q`` eid u8(i) u8(j): trustee j's complaint against dealer i."""
    return b"Q" + eid + _u8(dealer) + _u8(accuser)


def reveal_key(eid: bytes, dealer: int, recipient: int) -> bytes:
    """``A`` eid u8(i) u8(j): dealer i's reveal of its share for j."""
    return b"A" + eid + _u8(dealer) + _u8(recipient)


def acknowledgement_key(eid: bytes, dealer: int, recipient: int) -> bytes:
    """``K`` eid u8(i) u8(j): trustee j's acknowledgement of dealer i's shares."""
    return b"K" + eid + _u8(dealer) + _u8(recipient)


def voter_record_key(eid: bytes, voter_key: bytes) -> bytes:
    """``V`` eid voter_key: the voter's ``VoterRecord``."""
    return b"V" + eid + voter_key


def card_tag_key(eid: bytes, card_tag: bytes) -> bytes:
    """``G`` eid card_tag: the voter key registered with that ID card."""
    return b"G" + eid + card_tag


def counted_ballot_key(eid: bytes, voter_key: bytes) -> bytes:
    """``B`` eid voter_key: the voter's counted ballot's ciphertexts (re-voting only)."""
    return b"B" + eid + voter_key


def spoiled_ballot_key(eid: bytes, ciphertexts: bytes) -> bytes:
    """``P`` eid digest: the spoil transaction of the ballot with that ``ciphertexts_digest``."""
    return b"P" + eid + ciphertexts


def tally_key(eid: bytes) -> bytes:
    """``T`` eid: the running ``EncryptedTally``."""
    return b"T" + eid


def decryption_share_key(eid: bytes, trustee: int) -> bytes:
    """``D`` eid u8(i): trustee i's ``DecryptionShare`` of the final tally."""
    return b"D" + eid + _u8(trustee)


def result_key(eid: bytes) -> bytes:
    """``R`` eid: the published ``TallyResult``."""
    return b"R" + eid


def included_tx_key(tx_hash: bytes) -> bytes:
    """``X`` tx_hash: the transaction was included (its expiry is the value)."""
    return b"X" + tx_hash


#: ``O``: the ``OpenElections`` the auto-close rule walks at every block
KEY_OPEN = b"O"


# --- reading records -----------------------------------------------------------------


def decode_record(cls: type[W], data: bytes | None) -> W | None:
    """A record's value decoded as ``cls``; None for a missing record.

    Decoded once per distinct value (``_decode_kept``): an election's status, the open
    elections and a voter's record are read by the admission check, the pool's sweep
    and the block that includes the transaction, each time from the same bytes."""
    return None if data is None else cast(W, _decode_kept(cast(Any, cls), data))


@lru_cache(maxsize=4096)
def _decode_kept(cls: type[Any], data: bytes) -> Any:
    """``decode`` remembered. Valid by construction: decoding is a pure function of
    (class, bytes), and records decode to frozen dataclasses nobody can change. A
    refusal is an exception, which ``lru_cache`` never keeps."""
    return decode(cls, data)


def trustee_commitments(
    get: Callable[[bytes], bytes | None], eid: bytes, indices: tuple[int, ...] | list[int]
) -> list[trustee_crypto.TrusteeCommitment]:
    """The commitments of the trustees ``indices`` (each must have posted one)."""
    out = []
    for index in indices:
        commitment = decode_record(
            trustee_crypto.TrusteeCommitment, get(commitment_key(eid, index))
        )
        assert commitment is not None
        out.append(commitment)
    return out


def decryption_shares(
    get: Callable[[bytes], bytes | None], eid: bytes, trustees: int
) -> list[decryption.DecryptionShare]:
    """The decryption shares posted so far by trustees 1..``trustees``, in index order."""
    out = []
    for index in range(1, trustees + 1):
        share = decode_record(decryption.DecryptionShare, get(decryption_share_key(eid, index)))
        if share is not None:
            out.append(share)
    return out


# --- how ballots are kept ------------------------------------------------------------


def ciphertexts_digest(ballot: ballot_crypto.EncryptedBallot) -> bytes:
    """What ties a spoiled ballot to a cast one: its ciphertexts only, so new proofs (for
    the same or another voter key: whoever knows the revealed randomness can make them)
    do not make them new. Bit 255 of each point encoding is cleared first: libsodium
    1.0.18 ignores it, so a set bit would otherwise be a second spelling of the same
    ciphertext (issue 11, attack 4)."""
    parts = bytearray()
    for contest in ballot.contests:
        for ct in contest.ciphertexts:
            for point in (ct.alpha, ct.beta):
                parts += point[:31] + bytes([point[31] & 0x7F])
    return hash_bytes("state/ballot-ciphertexts", bytes(parts))


def ciphertext_bytes(ballot: ballot_crypto.EncryptedBallot) -> bytes:
    """A counted ballot as kept for re-voting: its ciphertexts only, alpha||beta, in
    ballot order (the proofs were checked when it was cast and are in its block)."""
    return b"".join(ct.alpha + ct.beta for contest in ballot.contests for ct in contest.ciphertexts)


def ballot_from_ciphertexts(
    manifest: Manifest, eid: bytes, data: bytes
) -> ballot_crypto.EncryptedBallot:
    """A kept ballot (``ciphertext_bytes``) read back, without proofs: enough to add to or
    take from a tally."""
    contests = []
    pos = 0
    for contest in manifest.contests:
        ciphertexts = []
        for _ in range(contest_width(contest)):
            ciphertexts.append(Ciphertext(data[pos : pos + 32], data[pos + 32 : pos + 64]))
            pos += 64
        contests.append(ballot_crypto.EncryptedContest(tuple(ciphertexts), (), ()))
    return ballot_crypto.EncryptedBallot(eid, tuple(contests))
