"""What goes into and comes out of the replica's step function, and the App callback.

``step(state, event) -> (state, actions)``: the node turns I/O into events and carries
out the actions **in list order**. The ordering contract the node must honour:

1. ``Persist(record)`` must be durable (fsync / synced WriteBatch) before any later action
   in the same list is carried out. The first ``Send`` of every PRE-PREPARE, PREPARE,
   COMMIT, VIEW-CHANGE and NEW-VIEW this replica signs is preceded, in the same list, by a
   ``Persist`` whose record already contains it, so after a crash the replica restored
   from the last durable record never signs a conflicting message
   (``init_state(..., persisted=record)``). Re-sends of messages persisted earlier and
   CHECKPOINTs (a function of the durably committed chain) have no ``Persist`` of their
   own. The simulation checks this contract on every send.
2. ``CommitBlock(height, block, certificate)`` stores block + certificate atomically and
   then executes the block; the node reports the resulting state root with an
   ``Executed(height, state_root)`` event. Heights arrive strictly in order 1, 2, 3, ...
3. ``Send(message, to)`` is fire-and-forget (``to=None`` means every other validator);
   loss is tolerated, the protocol retransmits through timers and view changes.
4. ``SetTimer(name, token, delay_ms)`` replaces any pending timer of that name; when it
   expires the node feeds ``TimerFired(name, token)``. ``CancelTimer(name)`` drops it.
   Stale tokens are ignored by the replica, so a late fire is harmless.
5. ``RequestProposal(height, view, prev_hash)``: only the primary gets it; the node's
   producer builds a block on ``prev_hash`` and answers ``ProposalReady(height, view,
   block)`` (answering late or never is safe: the view then times out).
6. ``Fetch(from_height, peers)``: ask those validators (indices) for committed blocks with
   their certificates from ``from_height`` on, answer ``FetchedBlocks(...)``.

Besides the answers above, the node reports its client work with ``ClientWork(pending)``
(see there): the replica changes view on a timer only while it waits for a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Protocol

from ballot_tx.codec import U8, U16, U64, Bytes32, MaxLen, Wire
from consensus.certificate import CommitCertificate
from consensus.messages import (
    MAX_PROOFS,
    CheckpointProof,
    ConsensusMessage,
    PreparedProof,
    ViewChange,
)


class App(Protocol):
    """The application (the chain's block rules), as consensus sees it. Blocks are opaque
    bytes; the hash of the block before height 1 is the chain id (genesis hash)."""

    def validate(self, height: int, prev_hash: bytes, block: bytes) -> bool:
        """True iff ``block`` is a valid block at ``height`` on top of ``prev_hash``.
        Must be deterministic: every honest replica must reach the same verdict."""
        ...

    def block_hash(self, block: bytes) -> bytes:
        """The 32-byte identity hash of a block (what votes and certificates name)."""
        ...

    def block_time_ms(self, block: bytes) -> int | None:
        """The proposer's timestamp in the block (None if the block does not decode):
        what ``consensus.timeliness`` compares with the time a proposal arrived."""
        ...


# --- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """First event after ``init_state``: arms timers, asks for a proposal if primary."""


@dataclass(frozen=True)
class Received:
    """A decoded message from a peer (decode with ``messages.decode_message``), and the
    receiver's local clock when it arrived (ms since the epoch): the timeliness rule
    for proposals (``consensus.timeliness``) compares block time with it."""

    message: ConsensusMessage
    at_ms: int


@dataclass(frozen=True)
class TimerFired:
    name: str
    token: int


@dataclass(frozen=True)
class ProposalReady:
    height: int
    view: int
    block: bytes


@dataclass(frozen=True)
class Executed:
    height: int
    state_root: bytes


@dataclass(frozen=True)
class FetchedBlocks:
    """Committed blocks from a peer, consecutive heights, each with its certificate."""

    blocks: tuple[tuple[bytes, CommitCertificate], ...]


@dataclass(frozen=True)
class ClientWork:
    """Whether the node holds client work that consensus must serve: a pending
    transaction, or a block that only time calls for (an election's phase change due).

    The view timer counts only while a replica waits for a request (Castro-Liskov §4.4,
    ``replica.timers``): the node feeds this whenever the answer may have changed (a
    transaction admitted, a block committed) and just before each view-timer expiry (time
    alone can make a phase change due). A replica not told otherwise assumes work is
    pending, as in the paper's always-busy service."""

    pending: bool


Event = Start | Received | TimerFired | ProposalReady | Executed | FetchedBlocks | ClientWork


# --- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    message: ConsensusMessage
    to: int | None = None


@dataclass(frozen=True)
class SafetyVote(Wire):
    """One value this replica signed: phase 1 pre-prepare, 2 prepare, 3 commit."""

    phase: U8
    view: U64
    height: U64
    block_hash: Bytes32


@dataclass(frozen=True)
class SafetyRecord(Wire):
    """What a replica must remember across a crash to stay consistent (persist-before-send).

    ``view``/``view_active``: never act in a lower view again. ``votes``: every
    pre-prepare/prepare/commit signed above the stable checkpoint (never sign another hash
    for the same view, height and phase). ``checkpoint`` and ``prepared``: the C and P it
    would put into a VIEW-CHANGE, so a restart cannot "forget" a prepared block (§4.4).
    ``view_change``: the VIEW-CHANGE it sent for ``view``, resent verbatim.
    ``blocks``: the bytes of the prepared blocks above the committed chain. Without them a
    restart of every validator between prepare and commit halts the chain for good: the
    next primary must re-propose exactly that block (it is in P) and nobody has it.
    """

    KIND: ClassVar[str] = "pbft/safety-record"
    MAX_SIZE: ClassVar[int] = 8 << 20
    chain_id: Bytes32
    validator: U16
    view: U64
    view_active: bool
    checkpoint: CheckpointProof
    prepared: Annotated[tuple[PreparedProof, ...], MaxLen(MAX_PROOFS)]
    votes: Annotated[tuple[SafetyVote, ...], MaxLen(4 * MAX_PROOFS)]
    view_change: ViewChange | None
    #: the VIEW-CHANGEs it sent for earlier views (the last few): after a restart of every
    #: validator, a replica that moved on must still be able to help the ones left in a
    #: lower view gather 2f+1 VIEW-CHANGEs for it (re-sent verbatim, so no new vote)
    earlier_view_changes: Annotated[tuple[ViewChange, ...], MaxLen(8)]
    blocks: Annotated[tuple[bytes, ...], MaxLen(MAX_PROOFS)]


@dataclass(frozen=True)
class Persist:
    record: SafetyRecord


@dataclass(frozen=True)
class SetTimer:
    name: str
    token: int
    delay_ms: int


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class RequestProposal:
    height: int
    view: int
    prev_hash: bytes


@dataclass(frozen=True)
class CommitBlock:
    height: int
    block: bytes
    certificate: CommitCertificate


@dataclass(frozen=True)
class Fetch:
    from_height: int
    peers: tuple[int, ...]


Action = Send | Persist | SetTimer | CancelTimer | RequestProposal | CommitBlock | Fetch
