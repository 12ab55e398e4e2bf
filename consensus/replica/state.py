"""The replica's state, one part per concern, and the protocol's constants.

``ReplicaState`` is a plain mutable object owned by the caller: ``step`` updates its parts
in place. ``Config`` is fixed for the replica's lifetime; the signing key and its expanded
secret never appear in ``repr``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ballot_tx.keys import KeyPair
from consensus.checkpoint import CheckpointLog, high_watermark
from consensus.events import App
from consensus.messages import (
    MAX_MESSAGE_SIZE,
    CheckpointProof,
    ConsensusMessage,
    PreparedProof,
    SignedViewChange,
    ViewChange,
)
from consensus.verify import Verifier
from genesis.document import Genesis

PHASE_PRE_PREPARE, PHASE_PREPARE, PHASE_COMMIT = 1, 2, 3
VIEW_TIMER = "view"
FETCH_TIMER = "fetch"
#: The view-change timeout doubles per consecutive failed view, up to 2**MAX_BACKOFF.
MAX_BACKOFF = 6
#: Messages for views up to this far ahead are held (not dropped) until the view starts.
FUTURE_VIEWS = 2
HOLD_PER_SENDER = 64
VC_VIEWS_PER_SENDER = 4
#: view sync (``view_sync.sync_target``): an active replica moves up to a view some
#: replica is stuck in after holding its VIEW-CHANGE this many view timeouts (doubled
#: per sync)
SYNC_AFTER_TIMEOUTS = 3
#: VIEW-CHANGE and NEW-VIEW carry the bytes of the blocks they name, newest first, up to
#: this many bytes; the rest (older blocks, committed by then) are fetched with their
#: certificates. Genesis caps a block at half the message limit, so the uncommitted
#: block a new view must re-propose always fits, and no message outgrows the limit.
CARRY_BUDGET = MAX_MESSAGE_SIZE - (1 << 20)


class Stale(Exception):
    """A message about a height at or below the stable checkpoint: silently dropped."""


@dataclass
class Slot:
    """The log for one (view, height): pre-prepare, prepares and commits by digest."""

    pp_hash: bytes | None = None
    pp_sig: bytes = b""
    prepares: dict[bytes, dict[int, bytes]] = field(default_factory=dict)
    commits: dict[bytes, dict[int, bytes]] = field(default_factory=dict)
    validated: bool = False
    #: PBTS: a new proposal's block time was within the timeliness window when it arrived
    #: (True for NEW-VIEW re-proposals, which are exempt)
    timely: bool = True
    sent_prepare: bool = False
    sent_commit: bool = False


@dataclass(frozen=True)
class Config:
    """What a replica is and what it runs under: fixed for its lifetime (from genesis)."""

    genesis: Genesis
    me: int
    chain_id: bytes
    #: never in ``repr`` (nor ``secret``): a state printed in a log or a test failure
    #: must not carry signing material
    key: KeyPair = field(repr=False)
    app: App
    verifier: Verifier
    n: int
    f: int
    quorum: int
    interval: int
    timeout_ms: int
    precision_ms: int
    msg_delay_ms: int
    #: the expanded Ed25519 secret of ``key``, derived once (one libsodium call per signature)
    secret: bytes = field(repr=False)


@dataclass
class Log:
    """The message log and the chain it produced (§4.2, garbage-collected by §4.3)."""

    last_committed: int = 0
    committed: dict[int, bytes] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)
    blocks: dict[bytes, bytes] = field(default_factory=dict)
    block_height: dict[bytes, int] = field(default_factory=dict)
    valid_cache: dict[tuple[int, bytes, bytes], bool] = field(default_factory=dict)
    slots: dict[tuple[int, int], Slot] = field(default_factory=dict)
    prepared: dict[int, PreparedProof] = field(default_factory=dict)
    #: every vote this replica signed: (phase, view, height) -> digest
    votes: dict[tuple[int, int, int], bytes] = field(default_factory=dict)
    stable: CheckpointProof | None = None
    checkpoints: CheckpointLog = field(default_factory=CheckpointLog)


@dataclass
class ViewChangeState:
    """Our VIEW-CHANGEs and NEW-VIEW, the others' VIEW-CHANGEs (§4.4), and messages held
    for views not entered yet."""

    #: our VIEW-CHANGE for the view we are changing to, its signature and carried blocks
    sent: ViewChange | None = None
    sent_blocks: tuple[bytes, ...] = ()
    sent_sig: bytes = b""
    #: our recent VIEW-CHANGEs by new view (to help a replica behind us)
    mine: dict[int, tuple[ViewChange, bytes, tuple[bytes, ...]]] = field(default_factory=dict)
    #: (sender, view) already helped during this timer period
    helped: set[tuple[int, int]] = field(default_factory=set)
    #: sender -> the highest view its messages named
    sender_view: dict[int, int] = field(default_factory=dict)
    #: new view -> sender -> its signed VIEW-CHANGE and carried blocks
    received: dict[int, dict[int, tuple[SignedViewChange, tuple[bytes, ...]]]] = field(
        default_factory=dict
    )
    nv_sent: ConsensusMessage | None = None
    held: dict[int, list[tuple[ConsensusMessage, int]]] = field(default_factory=dict)


@dataclass
class ViewSync:
    """The clock and memory of view synchronization (``view_sync``)."""

    #: the local clock (ms) of the latest message received: time enters the pure core only
    #: through ``Received.at_ms``; view sync measures its waits with it
    now_ms: int = 0
    #: ``now_ms`` when this replica entered its current view
    view_since_ms: int = 0
    #: the last view this replica was active in (bounds how far a jump may go)
    active_view: int = 0
    #: view -> ``now_ms`` when a VIEW-CHANGE for it (from another replica) was first held
    vc_seen_at: dict[int, int] = field(default_factory=dict)
    #: view syncs since the last calm period: each doubles the wait before the next one
    backoff: int = 0


@dataclass
class Timers:
    """Tokens of the timers armed (a ``TimerFired`` with an older token is ignored), and
    what the view timer waits for."""

    token: int = 0
    view_token: int = 0
    fetch_token: int = 0
    #: §4.5.2: the view-change timer runs (2f+1 VIEW-CHANGEs for our view are in)
    vc_running: bool = False
    #: the node holds client work (``ClientWork``); True until told otherwise
    client_work: bool = True


@dataclass
class CatchUp:
    """What the others claim to have reached, and the fetch underway."""

    claimed: dict[int, int] = field(default_factory=dict)
    fetching: int | None = None


@dataclass
class Stats:
    """Counters only: nothing in the protocol reads them."""

    rejected: Counter[str] = field(default_factory=Counter)
    signatures: int = 0


@dataclass
class ReplicaState:
    """A replica: its configuration, where it stands (view, active), and one part per
    concern. Mutable: ``step`` updates it in place."""

    config: Config
    view: int = 0
    active: bool = True
    #: the last view in which a block committed here: the view-change timeout doubles for
    #: every view since (§4.5.2: "until it executes a request in the new view")
    progress_view: int = 0
    #: (view, height) of the block the primary last asked the node for
    proposal_asked: tuple[int, int] | None = None
    log: Log = field(default_factory=Log)
    vc: ViewChangeState = field(default_factory=ViewChangeState)
    sync: ViewSync = field(default_factory=ViewSync)
    timers: Timers = field(default_factory=Timers)
    catchup: CatchUp = field(default_factory=CatchUp)
    stats: Stats = field(default_factory=Stats)

    # --- derived ---
    def primary(self, view: int) -> int:
        return view % self.config.n

    @property
    def low(self) -> int:
        assert self.log.stable is not None
        return self.log.stable.height

    @property
    def high(self) -> int:
        return high_watermark(self.low, self.config.interval)

    def hash_at(self, height: int) -> bytes | None:
        return self.config.chain_id if height == 0 else self.log.committed.get(height)


