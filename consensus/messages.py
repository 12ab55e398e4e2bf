"""PBFT wire messages (Castro & Liskov, OSDI'99 §4), signed under genesis validator keys.

Paper notation -> here (sequence number n = block height, digest d = block hash):

* ``<PRE-PREPARE, v, n, d>_p, m``  -> ``PrePrepare(view, height, block_hash)``; the block
  bytes ``m`` travel *alongside* in ``ConsensusMessage.blocks``, outside the signature
  (bound to it by ``d``), as the paper sends the request alongside (§4.2).
* ``<PREPARE, v, n, d, i>``        -> ``Prepare``;  ``<COMMIT, v, n, D(m), i>`` -> ``Commit``.
* ``<CHECKPOINT, n, d, i>``        -> ``Checkpoint(height, block_hash, state_root)`` (§4.3):
  the state digest is the application's state root after executing ``height``.
* ``<VIEW-CHANGE, v+1, n, C, P, i>`` -> ``ViewChange(new_view, checkpoint=C with n, prepared=P)``
* ``<NEW-VIEW, v+1, V, O>``          -> ``NewView(view, view_changes=V, pre_prepares=O)`` (§4.4).

Proofs are compact: a certificate of k matching messages is the message body once plus
k ``(validator index, signature)`` pairs (``VoteSig``); the body is rebuilt to verify.
Every signature is ``KeyPair.sign(KIND, chain_id, encode(body))`` with chain_id the genesis
hash, so a vote is worthless on another chain and one kind can't pass for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from ballot_tx.codec import U16, U64, Bytes32, Bytes64, MaxLen, Wire, decode, encode
from ballot_tx.errors import CodecError, ConsensusError, ErrorCode

#: Blocks and ViewChange/NewView messages can be large: 8 MiB per consensus message.
MAX_MESSAGE_SIZE = 8 << 20
MAX_PROOFS = 1024
MAX_VALIDATORS = 100
#: The hash of "no block": never a real block hash (all zero).
NULL_HASH = bytes(32)


@dataclass(frozen=True)
class VoteSig(Wire):
    """One validator's signature inside a certificate (sender index into genesis.validators)."""

    validator: U16
    signature: Bytes64


@dataclass(frozen=True)
class PrePrepare(Wire):
    KIND: ClassVar[str] = "pbft/pre-prepare"
    TAG: ClassVar[int] = 1
    view: U64
    height: U64
    block_hash: Bytes32


@dataclass(frozen=True)
class Prepare(Wire):
    KIND: ClassVar[str] = "pbft/prepare"
    TAG: ClassVar[int] = 2
    view: U64
    height: U64
    block_hash: Bytes32


@dataclass(frozen=True)
class Commit(Wire):
    KIND: ClassVar[str] = "pbft/commit"
    TAG: ClassVar[int] = 3
    view: U64
    height: U64
    block_hash: Bytes32


@dataclass(frozen=True)
class Checkpoint(Wire):
    KIND: ClassVar[str] = "pbft/checkpoint"
    TAG: ClassVar[int] = 4
    height: U64
    block_hash: Bytes32
    state_root: Bytes32


@dataclass(frozen=True)
class CheckpointProof(Wire):
    """C of §4.4: 2f+1 CHECKPOINT signatures over one (height, block_hash, state_root).

    Height 0 is the genesis checkpoint, stable by definition, with no signatures.
    """

    height: U64
    block_hash: Bytes32
    state_root: Bytes32
    sigs: Annotated[tuple[VoteSig, ...], MaxLen(MAX_VALIDATORS)]

    def body(self) -> Checkpoint:
        return Checkpoint(self.height, self.block_hash, self.state_root)


@dataclass(frozen=True)
class PreparedProof(Wire):
    """P_m of §4.4: a pre-prepare (signed by primary(view)) and 2f matching prepares from
    distinct backups, all for (view, height, block_hash)."""

    view: U64
    height: U64
    block_hash: Bytes32
    pre_prepare_sig: Bytes64
    prepares: Annotated[tuple[VoteSig, ...], MaxLen(MAX_VALIDATORS)]


@dataclass(frozen=True)
class ViewChange(Wire):
    KIND: ClassVar[str] = "pbft/view-change"
    TAG: ClassVar[int] = 5
    new_view: U64
    checkpoint: CheckpointProof
    prepared: Annotated[tuple[PreparedProof, ...], MaxLen(MAX_PROOFS)]


@dataclass(frozen=True)
class SignedViewChange(Wire):
    """A VIEW-CHANGE as it appears inside V of a NEW-VIEW (sender and signature kept)."""

    sender: U16
    body: ViewChange
    signature: Bytes64


@dataclass(frozen=True)
class NewViewEntry(Wire):
    """One pre-prepare of O: the primary's PRE-PREPARE signature over (view, height, hash)."""

    height: U64
    block_hash: Bytes32
    signature: Bytes64


@dataclass(frozen=True)
class NewView(Wire):
    KIND: ClassVar[str] = "pbft/new-view"
    TAG: ClassVar[int] = 6
    view: U64
    view_changes: Annotated[tuple[SignedViewChange, ...], MaxLen(MAX_VALIDATORS)]
    pre_prepares: Annotated[tuple[NewViewEntry, ...], MaxLen(MAX_PROOFS)]


Body = PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView


@dataclass(frozen=True)
class ConsensusMessage(Wire):
    """The unit peers exchange: a signed body plus unsigned block bytes carried alongside.

    ``blocks`` holds the bytes of blocks the body names by hash (the proposed block of a
    PRE-PREPARE, the blocks of P in a VIEW-CHANGE and of O in a NEW-VIEW); each is
    checked against the signed hash before use, so tampering with them only loses them.
    """

    KIND: ClassVar[str] = "pbft/message"
    MAX_SIZE: ClassVar[int] = MAX_MESSAGE_SIZE
    sender: U16
    body: Body
    signature: Bytes64
    blocks: Annotated[tuple[bytes, ...], MaxLen(MAX_PROOFS)] = ()


def encode_message(msg: ConsensusMessage) -> bytes:
    return encode(msg)


def decode_message(data: bytes) -> ConsensusMessage:
    """Decode a peer's bytes; any defect raises ``ConsensusError(CONSENSUS_BAD_MESSAGE)``."""
    try:
        return decode(ConsensusMessage, data)
    except CodecError as e:
        raise ConsensusError(
            ErrorCode.CONSENSUS_BAD_MESSAGE, f"undecodable consensus message: {e.message}"
        ) from None
