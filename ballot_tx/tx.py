"""Signed transactions: one envelope, one tagged body per kind of election step.

Envelope. ``Tx(body, signer, expires_ms, signature)``; the signature is the
signer's Ed25519 signature (``ballot_tx.keys``, kind ``tx``) over the canonical
bytes of ``TxPayload(body, signer, expires_ms)`` with the chain id (genesis
hash) inside the signed bytes, so a transaction is valid on one chain only.

Replay protection: an expiry plus hash uniqueness. A transaction is admissible
in a block whose time is at most its ``expires_ms`` and at least
``expires_ms - MAX_TX_LIFETIME_MS`` (so nobody can sign something that floats
around for weeks), and its hash must not have been included before (the state
keeps the set of included hashes). Per-signer nonces were rejected because a
registrar posting batches, or a voter re-voting from two devices, would have to
serialise its transactions and the mempool would have to order them. Since
libsodium rejects non-canonical signatures, a third party cannot turn one valid
transaction into a second one with a different hash.

Who signs what (checked in ``ballot_tx/state/``): the genesis admin creates, opens and
closes elections; the genesis registrar registers voters; a trustee named in
the manifest posts its ceremony steps and decryption share; a registered voter
key casts and spoils ballots; the admin or a trustee publishes the result; the
registrar cancels the internet votes of voters who voted on paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import (
    U8,
    U64,
    Bytes32,
    Bytes64,
    MaxLen,
    Wire,
    decode,
    digest,
    encode,
    hash_bytes,
)
from ballot_tx.crypto.ballot import BallotSecrets, EncryptedBallot
from ballot_tx.crypto.decryption import DecryptionShare, TallyResult
from ballot_tx.crypto.trustees import EncryptedShare, ShareComplaint, ShareReveal, TrusteeCommitment
from ballot_tx.eligibility.one_time_code import CommitCodes
from ballot_tx.eligibility.registered_key import RegisterKeys
from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from ballot_tx.keys import KeyPair, verify
from ballot_tx.manifest import MAX_TRUSTEES, Manifest

#: The longest a signed transaction stays admissible (a voter's client uses much less).
MAX_TX_LIFETIME_MS = 24 * 3600 * 1000
#: How long a voter's signed ballot stays valid (the voting page, the demo's voters): an
#: hour leaves a slow connection and its retries time to reach a block.
VOTER_TX_LIFETIME_MS = 3_600_000
#: How long an official's, trustee's or registrar's signed command stays valid (the CLI,
#: the demo's polls): ten minutes, so one that did not go through cannot land much later.
CLIENT_TX_LIFETIME_MS = 10 * 60 * 1000
SIG_KIND = "tx"


@dataclass(frozen=True)
class CreateElection(Wire):
    """Admin: publish an election; its id is ``election_id(manifest)``."""

    TAG = 1
    manifest: Manifest


@dataclass(frozen=True)
class TrusteeCommit(Wire):
    """Trustee: ceremony step 1, polynomial commitments with a proof of knowledge."""

    TAG = 2
    election_id: Bytes32
    commitment: TrusteeCommitment


@dataclass(frozen=True)
class TrusteeShares(Wire):
    """Trustee: ceremony step 2, one Box-encrypted share for every other trustee."""

    TAG = 3
    election_id: Bytes32
    shares: Annotated[tuple[EncryptedShare, ...], MaxLen(MAX_TRUSTEES)]


@dataclass(frozen=True)
class TrusteeComplaint(Wire):
    """Trustee: the share another trustee sent it does not open or match (GJKR complaint)."""

    TAG = 4
    election_id: Bytes32
    complaint: ShareComplaint


@dataclass(frozen=True)
class TrusteeReveal(Wire):
    """Trustee: answer a complaint against it by revealing that one share in clear."""

    TAG = 13
    election_id: Bytes32
    reveal: ShareReveal


@dataclass(frozen=True)
class ShareAck(Wire):
    """One dealer's shares, opened and checked against its commitment by the signer."""

    dealer: U8
    shares: Bytes32  # ``shares_digest`` of the dealer's TrusteeShares as posted on chain


@dataclass(frozen=True)
class TrusteeAcknowledge(Wire):
    """Trustee: ceremony step 3, "the shares these dealers sent me verify" (a bad share is
    answered with a ``TrusteeComplaint`` instead). The election opens only when every pair
    of qualified trustees is acknowledged or its complaint answered (``state/election.py``)."""

    TAG = 14
    election_id: Bytes32
    acks: Annotated[tuple[ShareAck, ...], MaxLen(MAX_TRUSTEES)]


@dataclass(frozen=True)
class OpenElection(Wire):
    """Admin: end the ceremony, fix the joint key, accept ballots in the window.

    ``exclude`` names trustees the admin leaves out of the qualified set, to break a stall
    (a trustee that posted shares and then never acknowledged the others'): exclusion is on
    chain for everyone to see, and gives the admin no power it lacks today (it could open
    before that trustee finished)."""

    TAG = 5
    election_id: Bytes32
    exclude: Annotated[tuple[U8, ...], MaxLen(MAX_TRUSTEES)] = ()


@dataclass(frozen=True)
class CastBallot(Wire):
    """Voter: an encrypted ballot bound to the signer's key (its proof credential)."""

    TAG = 8
    election_id: Bytes32
    ballot: EncryptedBallot


@dataclass(frozen=True)
class SpoilBallot(Wire):
    """Voter: a Benaloh-challenged ballot with its secrets revealed; never counted."""

    TAG = 9
    election_id: Bytes32
    ballot: EncryptedBallot
    secrets: BallotSecrets


@dataclass(frozen=True)
class CloseElection(Wire):
    """Admin: stop accepting ballots (also happens by itself at the manifest's end time)."""

    TAG = 10
    election_id: Bytes32


@dataclass(frozen=True)
class PostDecryptionShare(Wire):
    """Trustee: its share of the decryption of the final encrypted tally, with proof."""

    TAG = 11
    election_id: Bytes32
    share: DecryptionShare


@dataclass(frozen=True)
class PublishResult(Wire):
    """Admin or trustee: the decrypted result, checked against tally and shares."""

    TAG = 12
    election_id: Bytes32
    result: TallyResult


#: Most voters one cancellation names.
MAX_CANCEL_BATCH = 1000


@dataclass(frozen=True)
class CancelInternetVote(Wire):
    """Registrar: these voters voted on paper at a polling station, so their internet
    ballots leave the tally and their keys cast no more (a paper vote overrides)."""

    TAG = 15
    election_id: Bytes32
    voter_keys: Annotated[tuple[Bytes32, ...], MaxLen(MAX_CANCEL_BATCH)]


TxBody = (
    CreateElection
    | TrusteeCommit
    | TrusteeShares
    | TrusteeComplaint
    | TrusteeReveal
    | TrusteeAcknowledge
    | OpenElection
    | RegisterKeys
    | CommitCodes
    | CastBallot
    | SpoilBallot
    | CloseElection
    | PostDecryptionShare
    | PublishResult
    | CancelInternetVote
)

#: Human names of the kinds, for errors, audit output and the API.
KIND_NAMES: dict[type[Wire], str] = {
    CreateElection: "election-create",
    TrusteeCommit: "trustee-commit",
    TrusteeShares: "trustee-shares",
    TrusteeComplaint: "trustee-complaint",
    TrusteeReveal: "trustee-reveal",
    TrusteeAcknowledge: "trustee-acknowledge",
    OpenElection: "election-open",
    RegisterKeys: "register-keys",
    CommitCodes: "commit-codes",
    CastBallot: "ballot-cast",
    SpoilBallot: "ballot-spoil",
    CloseElection: "election-close",
    PostDecryptionShare: "decryption-share",
    PublishResult: "result",
    CancelInternetVote: "cancel-internet-vote",
}


@dataclass(frozen=True)
class TxPayload(Wire):
    """The signed part of a transaction."""

    body: TxBody
    signer: Bytes32
    expires_ms: U64


@dataclass(frozen=True)
class Tx(Wire):
    KIND = "tx"
    MAX_SIZE = 1 << 18

    body: TxBody
    signer: Bytes32
    expires_ms: U64
    signature: Bytes64

    @property
    def kind(self) -> str:
        return KIND_NAMES[type(self.body)]

    def payload(self) -> bytes:
        return encode(TxPayload(self.body, self.signer, self.expires_ms))

    @property
    def hash(self) -> bytes:
        return digest(self)


def sign_tx(keys: KeyPair, chain_id: bytes, body: TxBody, expires_ms: int) -> Tx:
    """Make a signed transaction (clients, tests, the demo)."""
    signer = keys.ed25519_public
    payload = encode(TxPayload(body, signer, expires_ms))
    return Tx(body, signer, expires_ms, keys.sign(SIG_KIND, chain_id, payload))


def payload_of(raw: bytes) -> bytes:
    """The signed payload inside canonical transaction bytes, without re-encoding.

    A canonical ``Tx`` is a 4-element msgpack array (0x94) ending in its 64-byte
    signature as bin8 (0xc4 0x40 + 64 bytes); ``TxPayload`` is the 3-element array
    (0x93) of the same first three fields, byte for byte.
    """
    assert raw[0] == 0x94 and raw[-66:-64] == b"\xc4\x40"
    return b"\x93" + raw[1:-66]


def check_signature(tx: Tx, chain_id: bytes, raw: bytes | None = None) -> None:
    """Raise TX_BAD_SIGNATURE unless the signer signed this transaction on this chain.
    ``raw`` (the canonical bytes of ``tx``) saves re-encoding the payload."""
    payload = tx.payload() if raw is None else payload_of(raw)
    if not verify(tx.signer, SIG_KIND, chain_id, payload, tx.signature):
        raise TxError(ErrorCode.TX_BAD_SIGNATURE, f"{tx.kind} transaction signature does not verify")


def shares_digest(shares: TrusteeShares) -> bytes:
    """What a ``ShareAck`` names: the dealer's posted shares, byte for byte."""
    return hash_bytes("tx/trustee-shares", encode(shares))


def acknowledgement(election_id: bytes, me: int, posted: dict[int, TrusteeShares]) -> TrusteeAcknowledge:
    """Trustee ``me``'s acknowledgement of every other dealer in ``posted`` (dealer index ->
    its shares as posted); the caller has opened and checked the shares addressed to it."""
    acks = tuple(ShareAck(i, shares_digest(posted[i])) for i in sorted(posted) if i != me)
    return TrusteeAcknowledge(election_id, acks)


#: The most recently decoded transactions, by their bytes (see ``decode_tx``), at most
#: ``DECODED_MAX`` of them and ``DECODED_MAX_BYTES`` of transaction bytes.
_DECODED: dict[bytes, Tx] = {}
_decoded_bytes = 0
DECODED_MAX = 2048
DECODED_MAX_BYTES = 16 << 20


def decode_tx(data: bytes) -> Tx:
    """Strictly decode transaction bytes; any codec failure is TX_MALFORMED.

    A node decodes each transaction at admission, at every re-check of its pending pool,
    and in the block that carries it: the last successful decodes (``DECODED_MAX``,
    ``DECODED_MAX_BYTES``) are remembered by their bytes. Always valid: decoding is a function of the bytes alone,
    and a decoded ``Tx`` is immutable (frozen dataclasses, tuples, bytes, ints). Refusals
    are not remembered (each raises afresh)."""
    global _decoded_bytes
    tx = _DECODED.get(data) if type(data) is bytes else None
    if tx is not None:
        return tx
    try:
        tx = decode(Tx, data)
    except BallotchainError as e:
        raise TxError(ErrorCode.TX_MALFORMED, f"transaction does not decode: {e.message}") from None
    if type(data) is bytes and len(data) <= DECODED_MAX_BYTES:
        while _DECODED and (len(_DECODED) >= DECODED_MAX or _decoded_bytes + len(data) > DECODED_MAX_BYTES):
            oldest = next(iter(_DECODED))  # insertion order: the oldest first
            del _DECODED[oldest]
            _decoded_bytes -= len(oldest)
        _DECODED[data] = tx
        _decoded_bytes += len(data)
    return tx


def forget_decoded() -> None:
    """Empty ``decode_tx``'s memory (benchmarks that must measure a cold decode)."""
    global _decoded_bytes
    _DECODED.clear()
    _decoded_bytes = 0


def election_of(body: TxBody) -> bytes | None:
    """The election a transaction is about (None for a create, whose id is its manifest's)."""
    return getattr(body, "election_id", None)
