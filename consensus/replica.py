"""The PBFT replica as a step function: ``step(state, event) -> (state, actions)``.

Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI'99 (section numbers below
refer to it; the TOCS 2002 paper's BFT-PK algorithm is the same). Sequence number n is
the block height, digest d the block hash, one block per height.

Normal case (§4.2):
* primary(v) = v mod n. It asks the node for a block (``RequestProposal``) for
  h = last committed + 1 and multicasts ``<PRE-PREPARE, v, h, d>`` with the block.
* A backup accepts it if the signature is primary(v)'s, it is in view v, h is within the
  watermarks and it accepted no other digest for (v, h); it then multicasts PREPARE --
  once the application validated the block on top of its committed block h-1 (so
  honest replicas prepare h only after committing h-1: blocks chain by hash).
* prepared(v, h, d) at i: the pre-prepare and 2f matching PREPAREs from distinct backups.
  Then i multicasts COMMIT. committed-local: 2f+1 matching COMMITs from distinct replicas
  in one view (possibly including its own); those COMMITs are the commit certificate.
  Blocks commit strictly in height order.

Checkpoints and watermarks: §4.3 (``checkpoint.py``). View changes: §4.4
(``viewchange.py``) with the liveness rules of §4.5.2: a timer that doubles for each
consecutive view change, and joining a view change once f+1 replicas ask for higher views.
View synchronization (``_jump_target``, ``_sync_target``) brings back a replica left alone
in a higher view after a fault heals, by moving the others *up* to it, never it down.

The state is a plain mutable object owned by the caller: ``step`` updates it in place and
returns it with the actions. There is no I/O, clock or randomness: signatures are
deterministic Ed25519. Bad input never raises: it is counted in ``state.rejected`` by
error code and otherwise ignored (no state change).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import nacl.bindings as sodium

from ballot_tx.codec import Wire, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from ballot_tx.keys import KeyPair, signing_bytes
from consensus.certificate import CommitCertificate, check_certificate
from consensus.checkpoint import (
    CheckpointLog,
    check_checkpoint_proof,
    genesis_checkpoint,
    high_watermark,
)
from consensus.events import (
    Action,
    App,
    CommitBlock,
    Event,
    Executed,
    Fetch,
    FetchedBlocks,
    Persist,
    ProposalReady,
    Received,
    RequestProposal,
    SafetyRecord,
    SafetyVote,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from consensus.messages import (
    MAX_MESSAGE_SIZE,
    Checkpoint,
    CheckpointProof,
    Commit,
    ConsensusMessage,
    NewView,
    NewViewEntry,
    Prepare,
    PreparedProof,
    PrePrepare,
    SignedViewChange,
    ViewChange,
    VoteSig,
)
from consensus.timeliness import is_timely
from consensus.verify import Verifier
from consensus.viewchange import check_new_view, check_view_change, compute_new_view
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
#: view sync (``_sync_target``): an active replica moves up to a view some replica is
#: stuck in after holding its VIEW-CHANGE this many view timeouts (doubled per sync)
SYNC_AFTER_TIMEOUTS = 3
#: VIEW-CHANGE and NEW-VIEW carry the bytes of the blocks they name, newest first, up to
#: this many bytes; the rest (older blocks, committed by then) are fetched with their
#: certificates. Genesis caps a block at half the message limit, so the uncommitted
#: block a new view must re-propose always fits, and no message outgrows the limit.
CARRY_BUDGET = MAX_MESSAGE_SIZE - (1 << 20)


class _Stale(Exception):
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
    """The clock and memory of view synchronization (``viewsync``)."""

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
    """Tokens of the timers armed (a ``TimerFired`` with an older token is ignored)."""

    token: int = 0
    view_token: int = 0
    fetch_token: int = 0
    #: §4.5.2: the view-change timer runs (2f+1 VIEW-CHANGEs for our view are in)
    vc_running: bool = False


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


def init_state(
    genesis: Genesis,
    my_index: int,
    chain_id: bytes,
    key: KeyPair,
    app: App,
    persisted: SafetyRecord | None = None,
    committed_height: int = 0,
    committed_hash: bytes | None = None,
) -> ReplicaState:
    """A replica for validator ``my_index``; restored from ``persisted`` after a restart.

    ``committed_height``/``committed_hash`` are the node's durable chain tip (0 = none).
    """
    if genesis.validators[my_index].ed25519_public != key.ed25519_public:
        raise ConsensusError(
            ErrorCode.CONSENSUS_NOT_VALIDATOR, f"key is not genesis validator {my_index}'s key"
        )
    verifier = Verifier(tuple(v.ed25519_public for v in genesis.validators), chain_id)
    config = Config(
        genesis=genesis,
        me=my_index,
        chain_id=chain_id,
        key=key,
        app=app,
        verifier=verifier,
        n=genesis.n,
        f=genesis.f,
        quorum=genesis.quorum,
        interval=max(1, genesis.params.checkpoint_interval),
        timeout_ms=genesis.params.view_timeout_ms,
        precision_ms=genesis.params.time_precision_ms,
        msg_delay_ms=genesis.params.time_msg_delay_ms,
        secret=sodium.crypto_sign_seed_keypair(key.ed25519_seed)[1],
    )
    st = ReplicaState(config)
    st.log.stable = genesis_checkpoint(chain_id)
    if committed_height:
        if committed_hash is None:
            raise ValueError("committed_hash is required with committed_height")
        st.log.last_committed = committed_height
        st.log.committed[committed_height] = committed_hash
    if persisted is not None:
        _restore(st, persisted)
    return st


def _restore(st: ReplicaState, rec: SafetyRecord) -> None:
    if rec.chain_id != st.config.chain_id or rec.validator != st.config.me:
        raise ConsensusError(
            ErrorCode.CONSENSUS_BAD_RECORD, "persisted record is for another chain or validator"
        )
    try:
        check_checkpoint_proof(st.config.verifier, rec.checkpoint)
    except ConsensusError as e:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_RECORD, e.message) from None
    st.view, st.active = rec.view, rec.view_active
    st.progress_view = max(0, rec.view - 1)
    st.sync.active_view = rec.view if rec.view_active else max(0, rec.view - 1)
    st.log.stable = rec.checkpoint
    st.log.prepared = {p.height: p for p in rec.prepared}
    st.log.votes = {(v.phase, v.view, v.height): v.block_hash for v in rec.votes}
    st.vc.sent = rec.view_change
    for vc in (*rec.earlier_view_changes, *((rec.view_change,) if rec.view_change else ())):
        st.vc.mine[vc.new_view] = (vc, _sign(st, vc), ())  # Ed25519 is deterministic: same signature
    heights = {p.block_hash: p.height for p in rec.prepared}
    for block in rec.blocks:
        d = st.config.app.block_hash(block)
        if d not in heights:
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_RECORD, "persisted record holds a block it did not prepare"
            )
        st.log.blocks[d] = block
        st.log.block_height[d] = heights[d]


def step(st: ReplicaState, event: Event) -> tuple[ReplicaState, list[Action]]:
    """Apply one event; return the (updated) state and the actions, in execution order."""
    out: list[Action] = []
    try:
        if isinstance(event, Received):
            st.sync.now_ms = max(st.sync.now_ms, event.at_ms)
            _on_message(st, event.message, event.at_ms, out)
        elif isinstance(event, TimerFired):
            _on_timer(st, event, out)
        elif isinstance(event, ProposalReady):
            _on_proposal(st, event, out)
        elif isinstance(event, Executed):
            _on_executed(st, event, out)
        elif isinstance(event, FetchedBlocks):
            _on_fetched(st, event, out)
        elif isinstance(event, Start):
            _on_start(st, out)
    except ConsensusError as e:
        st.stats.rejected[str(e.code)] += 1
    except _Stale:
        pass
    if isinstance(event, Received) and isinstance(event.message.body, ViewChange):
        # a lone replica re-sends its VIEW-CHANGE every timeout: decide on its arrival,
        # so the node logs the move as reason=peers
        try:
            _maybe_sync(st, out)
        except ConsensusError as e:
            st.stats.rejected[str(e.code)] += 1
    return st, out


# --- signing and persistence ---------------------------------------------------------


def _sign(st: ReplicaState, body: Wire) -> bytes:
    """``KeyPair.sign`` with the expanded secret key kept (one libsodium call per signature)."""
    st.stats.signatures += 1
    msg = signing_bytes(type(body).KIND, st.config.chain_id, encode(body))
    sig: bytes = sodium.crypto_sign(msg, st.config.secret)[:64]
    return sig


def _vote(st: ReplicaState, phase: int, view: int, height: int, digest: bytes) -> None:
    """Record a vote about to be signed; refuse if it conflicts with one already signed."""
    key = (phase, view, height)
    prior = st.log.votes.get(key)
    if prior is not None and prior != digest:
        raise ConsensusError(
            ErrorCode.CONSENSUS_CONFLICT,
            f"already signed another digest in phase {phase} of view {view} height {height}",
        )
    st.log.votes[key] = digest


def _cast(
    st: ReplicaState,
    phase: int,
    body: PrePrepare | Prepare | Commit,
    out: list[Action],
    blocks: tuple[bytes, ...] = (),
) -> bytes:
    """Vote, sign, persist, send: the order every PBFT vote must follow. The vote is
    recorded (refused if it conflicts) before the signature exists, and the signed
    record is durable (``Persist``) before the signed message can leave (``Send``), so a
    restart never forgets a vote a peer holds. Returns the signature."""
    _vote(st, phase, body.view, body.height, body.block_hash)
    sig = _sign(st, body)
    out.append(Persist(record(st)))
    _broadcast(st, body, sig, out, blocks)
    return sig


def record(st: ReplicaState) -> SafetyRecord:
    """The durable record of everything this replica has signed that still matters."""
    assert st.log.stable is not None
    low = st.log.stable.height
    return SafetyRecord(
        chain_id=st.config.chain_id,
        validator=st.config.me,
        view=st.view,
        view_active=st.active,
        checkpoint=st.log.stable,
        prepared=tuple(p for h, p in sorted(st.log.prepared.items()) if h > low),
        votes=tuple(
            SafetyVote(ph, v, h, d) for (ph, v, h), d in sorted(st.log.votes.items()) if h > low
        ),
        view_change=st.vc.sent,
        earlier_view_changes=tuple(
            vc for v, (vc, _, _) in sorted(st.vc.mine.items()) if st.vc.sent is None or v != st.vc.sent.new_view
        ),
        blocks=tuple(
            st.log.blocks[p.block_hash]
            for h, p in sorted(st.log.prepared.items())
            if h > st.log.last_committed and p.block_hash in st.log.blocks
        ),
    )


def _broadcast(
    st: ReplicaState, body: Wire, sig: bytes, out: list[Action], blocks: tuple[bytes, ...] = ()
) -> ConsensusMessage:
    msg = ConsensusMessage(st.config.me, body, sig, blocks)  # type: ignore[arg-type]
    out.append(Send(msg))
    return msg


# --- timers --------------------------------------------------------------------------


def _arm_view_timer(st: ReplicaState, out: list[Action], backoff: bool = True) -> None:
    doublings = min(max(0, st.view - st.progress_view), MAX_BACKOFF) if backoff else 0
    st.timers.token += 1
    st.timers.view_token = st.timers.token
    st.vc.helped.clear()
    out.append(SetTimer(VIEW_TIMER, st.timers.token, st.config.timeout_ms << doublings))


def _arm_view_change_timer(st: ReplicaState, out: list[Action]) -> None:
    """§4.5.2: after sending VIEW-CHANGE for v+1, start the (doubling) timer only once
    2f+1 VIEW-CHANGEs for v+1 are in, so no replica races ahead through views alone.
    Until then the timer only retransmits our VIEW-CHANGE (the network may have lost it)."""
    if len(st.vc.received.get(st.view, {})) >= st.config.quorum:
        st.timers.vc_running = True
        _arm_view_timer(st, out)
    else:
        _arm_view_timer(st, out, backoff=False)


def _on_start(st: ReplicaState, out: list[Action]) -> None:
    if not st.active and st.vc.sent is not None and st.vc.sent.new_view == st.view:
        sig = _sign(st, st.vc.sent)  # the same VIEW-CHANGE again (Ed25519 is deterministic)
        st.vc.sent_sig = sig
        st.vc.received.setdefault(st.view, {})[st.config.me] = (
            SignedViewChange(st.config.me, st.vc.sent, sig),
            (),
        )
        _broadcast(st, st.vc.sent, sig, out)
        _arm_view_change_timer(st, out)
    else:
        _arm_view_timer(st, out)
    if st.log.last_committed < st.low:
        _request_fetch(st, tuple(range(st.config.n)), out)  # the record's checkpoint is ahead of our chain
    _maybe_propose(st, out)


def _on_timer(st: ReplicaState, ev: TimerFired, out: list[Action]) -> None:
    if ev.name == VIEW_TIMER and ev.token == st.timers.view_token:
        if not st.active and not st.timers.vc_running and st.vc.sent is not None:
            _broadcast(st, st.vc.sent, st.vc.sent_sig, out, st.vc.sent_blocks)  # retransmit
            _arm_view_change_timer(st, out)
            return
        # §4.4: the timer expired in view v -> start a view change to v+1 (a replica still
        # waiting for NEW-VIEW v+1 moves on to v+2 with a doubled timeout, §4.5.2).
        _start_view_change(st, st.view + 1, out)
    elif ev.name == FETCH_TIMER and ev.token == st.timers.fetch_token:
        st.catchup.fetching = None
        if st.log.last_committed < st.low:
            # our stable checkpoint (e.g. from a NEW-VIEW) is above our chain and the peer
            # asked had nothing (it lagged too): ask again, the checkpoint's signers
            # executed that far. Once per timeout. Without this a lagging replica that
            # becomes primary right after a view sync never proposes (sim seed 2347, n=7).
            assert st.log.stable is not None
            _request_fetch(st, tuple(s.validator for s in st.log.stable.sigs), out)
        _check_behind(st, out)


# --- normal case (§4.2) --------------------------------------------------------------


def _slot(st: ReplicaState, view: int, height: int) -> Slot:
    s = st.log.slots.get((view, height))
    if s is None:
        s = st.log.slots[(view, height)] = Slot()
    return s


def _validate(st: ReplicaState, height: int, digest: bytes) -> bool:
    """App verdict on block ``digest`` at ``height`` over our committed block height-1."""
    prev = st.hash_at(height - 1)
    block = st.log.blocks.get(digest)
    if prev is None or block is None:
        return False
    key = (height, prev, digest)
    ok = st.log.valid_cache.get(key)
    if ok is None:
        ok = st.log.valid_cache[key] = bool(st.config.app.validate(height, prev, block))
    return ok


def _maybe_propose(st: ReplicaState, out: list[Action]) -> None:
    h = st.log.last_committed + 1
    if not st.active or st.primary(st.view) != st.config.me or h > st.high:
        return
    if h <= st.low:
        # A stable checkpoint (adopted from a NEW-VIEW before we executed up to it) already
        # decided this height: fetch it. Proposing would re-sign a height whose votes were
        # garbage-collected with the checkpoint, possibly a second value (sim seed 3921).
        return
    slot = st.log.slots.get((st.view, h))
    if slot is not None and slot.pp_hash is not None:
        return
    if st.proposal_asked == (st.view, h):
        return
    prev = st.hash_at(h - 1)
    if prev is None:
        return
    st.proposal_asked = (st.view, h)
    out.append(RequestProposal(h, st.view, prev))


def _on_proposal(st: ReplicaState, ev: ProposalReady, out: list[Action]) -> None:
    h, v = ev.height, ev.view
    if not st.active or v != st.view or st.primary(v) != st.config.me:
        raise ConsensusError(ErrorCode.CONSENSUS_WRONG_VIEW, f"not primary of view {v} now")
    if h != st.log.last_committed + 1 or h > st.high or h <= st.low:
        raise ConsensusError(ErrorCode.CONSENSUS_OUT_OF_WINDOW, f"cannot propose height {h} now")
    slot = _slot(st, v, h)
    if slot.pp_hash is not None:
        raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, f"already proposed at height {h}")
    digest = st.config.app.block_hash(ev.block)
    st.log.blocks[digest] = ev.block
    st.log.block_height[digest] = h
    if not _validate(st, h, digest):
        raise ConsensusError(ErrorCode.CONSENSUS_INVALID_BLOCK, f"own proposal for {h} invalid")
    sig = _cast(st, PHASE_PRE_PREPARE, PrePrepare(v, h, digest), out, (ev.block,))
    slot.pp_hash, slot.pp_sig, slot.validated = digest, sig, True
    _check_prepared(st, v, h, out)


def _on_message(st: ReplicaState, msg: ConsensusMessage, at_ms: int, out: list[Action]) -> None:
    st.config.verifier.require(msg.sender, msg.body, msg.signature, type(msg.body).__name__)
    body = msg.body
    view = body.new_view if isinstance(body, ViewChange) else getattr(body, "view", 0)
    if view > st.vc.sender_view.get(msg.sender, 0):
        st.vc.sender_view[msg.sender] = view
    if isinstance(body, PrePrepare | Prepare | Commit):
        _note_height(st, msg.sender, body.height, out)
        if _early(st, body.view):
            _hold(st, msg, at_ms)
        elif isinstance(body, PrePrepare):
            _on_pre_prepare(st, msg.sender, body, msg.signature, msg.blocks, at_ms, out)
        elif isinstance(body, Prepare):
            _on_prepare(st, msg.sender, body, msg.signature, out)
        else:
            _on_commit(st, msg.sender, body, msg.signature, out)
    elif isinstance(body, Checkpoint):
        _on_checkpoint(st, msg.sender, body, msg.signature, out)
    elif isinstance(body, ViewChange):
        _on_view_change(st, msg.sender, body, msg.signature, msg.blocks, out)
    elif isinstance(body, NewView):
        _on_new_view(st, msg.sender, body, msg.blocks, out)


def _early(st: ReplicaState, view: int) -> bool:
    """A message for a view we have not entered (yet): the NEW-VIEW may be late."""
    return st.view < view <= st.view + FUTURE_VIEWS or (view == st.view and not st.active)


def _hold(st: ReplicaState, msg: ConsensusMessage, at_ms: int) -> None:
    """Keep a (verified) early message, with the time it arrived, to replay on entering its
    view; bounded per sender."""
    held = st.vc.held.setdefault(msg.sender, [])
    if all(m != msg for m, _ in held):
        held.append((msg, at_ms))
        del held[:-HOLD_PER_SENDER]


def _replay_held(st: ReplicaState, out: list[Action]) -> None:
    held, st.vc.held = st.vc.held, {}
    for msgs in held.values():
        for m, at_ms in msgs:
            if _early(st, m.body.view):  # type: ignore[union-attr]
                _hold(st, m, at_ms)
            elif m.body.view == st.view:  # type: ignore[union-attr]
                try:
                    _on_message(st, m, at_ms, out)
                except ConsensusError as e:
                    st.stats.rejected[str(e.code)] += 1
                except _Stale:
                    pass


def _require_window(st: ReplicaState, view: int, height: int, any_older_view: bool) -> None:
    if view > st.view or (not any_older_view and (view != st.view or not st.active)):
        raise ConsensusError(ErrorCode.CONSENSUS_WRONG_VIEW, f"message for view {view}")
    if height <= st.low:
        raise _Stale()  # garbage-collected height: harmless, not counted
    if height > st.high:
        raise ConsensusError(
            ErrorCode.CONSENSUS_OUT_OF_WINDOW, f"height {height} outside ({st.low}, {st.high}]"
        )


def _store_blocks(st: ReplicaState, blocks: tuple[bytes, ...], wanted: dict[bytes, int]) -> None:
    """Keep the carried blocks whose hash we need (unsigned bytes are checked by hash)."""
    for b in blocks:
        d = st.config.app.block_hash(b)
        if d in wanted and d not in st.log.blocks:
            st.log.blocks[d] = b
            st.log.block_height[d] = wanted[d]


def _on_pre_prepare(
    st: ReplicaState,
    sender: int,
    pp: PrePrepare,
    sig: bytes,
    blocks: tuple[bytes, ...],
    at_ms: int,
    out: list[Action],
) -> None:
    _require_window(st, pp.view, pp.height, any_older_view=False)
    if sender != st.primary(pp.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "pre-prepare not from the primary")
    slot = _slot(st, pp.view, pp.height)
    if slot.pp_hash is not None:
        if slot.pp_hash != pp.block_hash:
            raise ConsensusError(
                ErrorCode.CONSENSUS_CONFLICT, f"second pre-prepare for height {pp.height}"
            )
        return
    _store_blocks(st, blocks, {pp.block_hash: pp.height})
    if pp.block_hash not in st.log.blocks:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "pre-prepare without its block")
    slot.pp_hash, slot.pp_sig = pp.block_hash, sig
    block_time = st.config.app.block_time_ms(st.log.blocks[pp.block_hash])
    slot.timely = block_time is not None and is_timely(
        block_time, at_ms, st.config.precision_ms, st.config.msg_delay_ms
    )
    if not slot.timely:
        st.stats.rejected[str(ErrorCode.CONSENSUS_UNTIMELY)] += 1
    _try_prepare(st, pp.view, pp.height, out)


def _try_prepare(st: ReplicaState, v: int, h: int, out: list[Action]) -> None:
    """Multicast PREPARE once the block checks out on top of our committed chain."""
    slot = st.log.slots.get((v, h))
    if slot is None or slot.pp_hash is None or slot.sent_prepare or slot.validated:
        return
    if not st.active or v != st.view:
        return
    d = slot.pp_hash
    if h <= st.log.last_committed:
        ok = st.log.committed.get(h) == d  # redo after a view change (§4.4): same block only
    elif h == st.log.last_committed + 1:
        if not slot.timely:
            return  # PBTS: an untimely proposal is never prepared; the view timer replaces the primary
        ok = _validate(st, h, d)
        if not ok and d in st.log.blocks and st.hash_at(h - 1) is not None:
            # The primary proposed a block the application rejects: misbehaviour, so do
            # not wait for the timer (every honest replica reaches the same verdict).
            st.stats.rejected[str(ErrorCode.CONSENSUS_INVALID_BLOCK)] += 1
            slot.validated = False
            slot.sent_prepare = True  # never prepare it
            _start_view_change(st, st.view + 1, out)
            return
    else:
        return  # wait until h-1 commits
    if not ok:
        return
    slot.validated = True
    if st.primary(v) == st.config.me:
        _check_prepared(st, v, h, out)
        return
    sig = _cast(st, PHASE_PREPARE, Prepare(v, h, d), out)
    slot.sent_prepare = True
    slot.prepares.setdefault(d, {})[st.config.me] = sig
    _check_prepared(st, v, h, out)


def _on_prepare(st: ReplicaState, sender: int, p: Prepare, sig: bytes, out: list[Action]) -> None:
    _require_window(st, p.view, p.height, any_older_view=False)
    if sender == st.primary(p.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "prepare from the primary")
    slot = _slot(st, p.view, p.height)
    for d, sigs in slot.prepares.items():
        if sender in sigs and d != p.block_hash:
            raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, "sender prepared another block")
    slot.prepares.setdefault(p.block_hash, {}).setdefault(sender, sig)
    _check_prepared(st, p.view, p.height, out)


def _check_prepared(st: ReplicaState, v: int, h: int, out: list[Action]) -> None:
    """prepared(m, v, n, i) (§4.2) -> remember the proof for VIEW-CHANGE, multicast COMMIT."""
    slot = st.log.slots.get((v, h))
    if slot is None or slot.pp_hash is None or not slot.validated or slot.sent_commit:
        return
    if not st.active or v != st.view:
        return
    d = slot.pp_hash
    primary = st.primary(v)
    backups = sorted((i, s) for i, s in slot.prepares.get(d, {}).items() if i != primary)
    if len(backups) < 2 * st.config.f:
        return
    proof = PreparedProof(
        v, h, d, slot.pp_sig, tuple(VoteSig(i, s) for i, s in backups[: 2 * st.config.f])
    )
    cur = st.log.prepared.get(h)
    if cur is None or cur.view <= v:
        st.log.prepared[h] = proof
    sig = _cast(st, PHASE_COMMIT, Commit(v, h, d), out)
    slot.sent_commit = True
    slot.commits.setdefault(d, {})[st.config.me] = sig
    _try_commit(st, out)


def _on_commit(st: ReplicaState, sender: int, c: Commit, sig: bytes, out: list[Action]) -> None:
    # COMMITs of older views still count: 2f+1 of them in one view make a certificate.
    _require_window(st, c.view, c.height, any_older_view=True)
    slot = _slot(st, c.view, c.height)
    for d, sigs in slot.commits.items():
        if sender in sigs and d != c.block_hash:
            raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, "sender committed another block")
    slot.commits.setdefault(c.block_hash, {}).setdefault(sender, sig)
    _try_commit(st, out)


def _certificate_at(st: ReplicaState, h: int) -> CommitCertificate | None:
    for (v, height), slot in sorted(st.log.slots.items()):
        if height != h:
            continue
        for d, sigs in sorted(slot.commits.items()):
            if len(sigs) >= st.config.quorum and d in st.log.blocks:
                chosen = sorted(sigs.items())[: st.config.quorum]
                return CommitCertificate(h, v, d, tuple(VoteSig(i, s) for i, s in chosen))
    return None


def _try_commit(st: ReplicaState, out: list[Action]) -> None:
    """Commit heights in order while a certificate for the next one is at hand."""
    while True:
        h = st.log.last_committed + 1
        cert = _certificate_at(st, h)
        if cert is None or not _validate(st, h, cert.block_hash):
            return
        _commit(st, cert, st.log.blocks[cert.block_hash], out)


def _commit(st: ReplicaState, cert: CommitCertificate, block: bytes, out: list[Action]) -> None:
    h = cert.height
    st.log.last_committed = h
    st.log.committed[h] = cert.block_hash
    out.append(CommitBlock(h, block, cert))
    if st.active and cert.view == st.view:  # a fetched certificate of another view is no
        st.progress_view = st.view  # sign that our primary works: it must not hold us here
        _arm_view_timer(st, out)  # progress: the primary is doing its job
    _try_prepare(st, st.view, h + 1, out)
    _maybe_propose(st, out)


# --- checkpoints (§4.3) ----------------------------------------------------------------


def _on_executed(st: ReplicaState, ev: Executed, out: list[Action]) -> None:
    d = st.log.committed.get(ev.height)
    if d is None or ev.height > st.log.last_committed:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, f"height {ev.height} not committed")
    st.log.roots[ev.height] = ev.state_root
    if ev.height % st.config.interval == 0 and ev.height > st.low:
        cp = Checkpoint(ev.height, d, ev.state_root)
        sig = _sign(st, cp)
        st.log.checkpoints.add(st.config.me, cp, sig)
        _broadcast(st, cp, sig, out)
        _check_stable(st, out)


def _on_checkpoint(
    st: ReplicaState, sender: int, cp: Checkpoint, sig: bytes, out: list[Action]
) -> None:
    if cp.height <= st.low or cp.height % st.config.interval != 0:
        return
    _note_height(st, sender, cp.height, out)
    if cp.height > st.high + 2 * st.config.interval:
        raise ConsensusError(ErrorCode.CONSENSUS_OUT_OF_WINDOW, "checkpoint too far ahead")
    st.log.checkpoints.add(sender, cp, sig)
    _check_stable(st, out)


def _check_stable(st: ReplicaState, out: list[Action]) -> None:
    """Adopt the highest checkpoint with 2f+1 matching votes that we executed to the same
    state; a proven checkpoint above our chain is evidence we are behind (fetch)."""
    for cp in reversed(st.log.checkpoints.quorum_above(st.low, st.config.quorum)):
        if cp.height > st.log.last_committed:
            _request_fetch(st, tuple(st.log.checkpoints.votes[cp]), out)
            continue
        if st.log.committed.get(cp.height) == cp.block_hash and st.log.roots.get(cp.height) == (
            cp.state_root
        ):
            proof = st.log.checkpoints.proof(cp, st.config.quorum)
            assert proof is not None
            _make_stable(st, proof)
            return


def _make_stable(st: ReplicaState, proof: CheckpointProof) -> None:
    """Garbage-collect everything at or below the new low water mark (§4.3)."""
    st.log.stable = proof
    h = proof.height
    st.log.slots = {k: s for k, s in st.log.slots.items() if k[1] > h}
    st.log.prepared = {k: p for k, p in st.log.prepared.items() if k > h}
    st.log.votes = {k: d for k, d in st.log.votes.items() if k[2] > h}
    st.log.checkpoints.collect_garbage(h)
    keep = {d for d, bh in st.log.block_height.items() if bh > h}
    st.log.blocks = {d: b for d, b in st.log.blocks.items() if d in keep}
    st.log.block_height = {d: bh for d, bh in st.log.block_height.items() if d in keep}
    keep_from = min(h, st.log.last_committed)  # our tip is the next block's prev_hash
    st.log.committed = {k: d for k, d in st.log.committed.items() if k >= keep_from}
    st.log.roots = {k: r for k, r in st.log.roots.items() if k >= keep_from}
    st.log.valid_cache = {k: v for k, v in st.log.valid_cache.items() if k[0] > h}


# --- catch-up ------------------------------------------------------------------------


def _note_height(st: ReplicaState, sender: int, height: int, out: list[Action]) -> None:
    if height > st.catchup.claimed.get(sender, 0):
        st.catchup.claimed[sender] = height
        if height > st.log.last_committed + 1:
            _check_behind(st, out)


def _check_behind(st: ReplicaState, out: list[Action]) -> None:
    """f+1 validators speaking about heights above our next one: at least one honest
    replica committed beyond us, so fetch certified blocks instead of waiting."""
    ahead = tuple(sorted(i for i, h in st.catchup.claimed.items() if h > st.log.last_committed + 1))
    if len(ahead) >= st.config.f + 1:
        _request_fetch(st, ahead, out)


def _request_fetch(st: ReplicaState, peers: tuple[int, ...], out: list[Action]) -> None:
    peers = tuple(p for p in peers if p != st.config.me)
    if st.catchup.fetching is not None or not peers:
        return
    st.catchup.fetching = st.log.last_committed + 1
    out.append(Fetch(st.log.last_committed + 1, peers))
    st.timers.token += 1
    st.timers.fetch_token = st.timers.token
    out.append(SetTimer(FETCH_TIMER, st.timers.token, st.config.timeout_ms))


def _on_fetched(st: ReplicaState, ev: FetchedBlocks, out: list[Action]) -> None:
    """Commit fetched blocks in order, each only with a valid certificate and an App yes."""
    st.catchup.fetching = None
    for block, cert in ev.blocks:
        h = st.log.last_committed + 1
        if cert.height < h:
            continue
        if cert.height > h:
            break
        check_certificate(st.config.verifier, cert)
        d = st.config.app.block_hash(block)
        if d != cert.block_hash:
            raise ConsensusError(ErrorCode.CONSENSUS_BAD_CERTIFICATE, "block does not match")
        st.log.blocks[d] = block
        st.log.block_height[d] = h
        if not _validate(st, h, d):
            raise ConsensusError(ErrorCode.CONSENSUS_INVALID_BLOCK, f"fetched block {h} invalid")
        _commit(st, cert, block, out)
    _try_commit(st, out)
    _check_stable(st, out)
    _check_behind(st, out)
    w = _certified_view(st, ev)
    if w is not None:
        _start_view_change(st, w, out)


# --- view changes (§4.4, §4.5.2) ------------------------------------------------------------


def _start_view_change(st: ReplicaState, new_view: int, out: list[Action]) -> None:
    """Stop normal operation and multicast <VIEW-CHANGE, v+1, n, C, P, i>."""
    if new_view <= st.view:
        return
    assert st.log.stable is not None
    st.view, st.active = new_view, False
    st.proposal_asked = None
    prepared = tuple(p for h, p in sorted(st.log.prepared.items()) if h > st.log.stable.height)
    vc = ViewChange(new_view, st.log.stable, prepared)
    st.vc.sent = vc
    sig = st.vc.sent_sig = _sign(st, vc)
    blocks = _carry(st, [p.block_hash for p in prepared])
    st.vc.sent_blocks = blocks
    st.vc.mine[new_view] = (vc, sig, blocks)
    for v in sorted(st.vc.mine)[:-VC_VIEWS_PER_SENDER]:
        del st.vc.mine[v]
    st.vc.received.setdefault(new_view, {})[st.config.me] = (SignedViewChange(st.config.me, vc, sig), blocks)
    out.append(Persist(record(st)))
    _broadcast(st, vc, sig, out, blocks)
    st.timers.vc_running = False
    _arm_view_change_timer(st, out)
    _try_new_view(st, out)


def _carry(st: ReplicaState, hashes: list[bytes]) -> tuple[bytes, ...]:
    """The bytes of the named blocks we hold, highest height first, within CARRY_BUDGET."""
    held = sorted(
        (d for d in set(hashes) if d in st.log.blocks), key=lambda d: -st.log.block_height.get(d, 0)
    )
    out: list[bytes] = []
    size = 0
    for d in held:
        b = st.log.blocks[d]
        if size + len(b) > CARRY_BUDGET:
            continue
        out.append(b)
        size += len(b)
    return tuple(out)


def _on_view_change(
    st: ReplicaState,
    sender: int,
    vc: ViewChange,
    sig: bytes,
    blocks: tuple[bytes, ...],
    out: list[Action],
) -> None:
    if vc.new_view < st.view or (vc.new_view == st.view and st.active):
        # The sender is behind: help it with the NEW-VIEW we sent, if we are that primary,
        # or with the VIEW-CHANGE we sent for its view (already signed, so no new vote):
        # without it, it may never gather 2f+1 for a view we left.
        # Help only a sender that shows no later view, once per (sender, view) per timer
        # period: two replicas that both moved on must not bounce old messages forever.
        if st.vc.sender_view.get(sender, 0) > vc.new_view or (sender, vc.new_view) in st.vc.helped:
            return
        st.vc.helped.add((sender, vc.new_view))
        if st.vc.nv_sent is not None and st.vc.nv_sent.body.view == vc.new_view:  # type: ignore[union-attr]
            out.append(Send(st.vc.nv_sent, sender))
        elif vc.new_view in st.vc.mine:
            mine, mine_sig, mine_blocks = st.vc.mine[vc.new_view]
            msg = ConsensusMessage(st.config.me, mine, mine_sig, mine_blocks)
            out.append(Send(msg, sender))
        return
    if sender in st.vc.received.get(vc.new_view, {}):
        return
    check_view_change(st.config.verifier, vc, st.primary)
    _store_blocks(st, blocks, {p.block_hash: p.height for p in vc.prepared})
    st.vc.received.setdefault(vc.new_view, {})[sender] = (
        SignedViewChange(sender, vc, sig),
        blocks,
    )
    st.sync.vc_seen_at.setdefault(vc.new_view, st.sync.now_ms)
    # memory bound: a sender's VIEW-CHANGEs for at most VC_VIEWS_PER_SENDER views
    mine_views = sorted(v for v, vcs in st.vc.received.items() if sender in vcs)
    for v in mine_views[:-VC_VIEWS_PER_SENDER]:
        del st.vc.received[v][sender]
        if not st.vc.received[v]:  # no empty entry per view either (a sender's views vary)
            del st.vc.received[v]
            st.sync.vc_seen_at.pop(v, None)
    # §4.5.2: f+1 other replicas want views above ours -> join the smallest of them.
    above = {
        (v, s) for v, vcs in st.vc.received.items() if v > st.view for s in vcs if s != st.config.me
    }
    if len({s for _, s in above}) >= st.config.f + 1:
        _start_view_change(st, min(v for v, _ in above), out)
    jump = _jump_target(st)
    if jump is not None:
        # skipped views are not failed views: the timeout doubles once for the jump
        st.progress_view = min(st.progress_view + jump - st.view - 1, jump - 1)
        _start_view_change(st, jump, out)
    if (
        vc.new_view == st.view
        and not st.active
        and not st.timers.vc_running
        and len(st.vc.received.get(st.view, {})) >= st.config.quorum
    ):
        _arm_view_change_timer(st, out)
    _try_new_view(st, out)


def _try_new_view(st: ReplicaState, out: list[Action]) -> None:
    """As primary of the view we are changing to: with 2f+1 VIEW-CHANGEs (ours included)
    multicast <NEW-VIEW, v+1, V, O> and enter the view."""
    v = st.view
    if st.active or st.primary(v) != st.config.me:
        return
    vcs = st.vc.received.get(v, {})
    if st.config.me not in vcs or len(vcs) < st.config.quorum:
        return
    chosen = [vcs[st.config.me]] + [vcs[s] for s in sorted(vcs) if s != st.config.me][: st.config.quorum - 1]
    cp, entries = compute_new_view(s.body for s, _ in chosen)
    o = []
    for h, d in entries:
        _vote(st, PHASE_PRE_PREPARE, v, h, d)
        o.append(NewViewEntry(h, d, _sign(st, PrePrepare(v, h, d))))
    nv = NewView(v, tuple(sorted((s for s, _ in chosen), key=lambda s: s.sender)), tuple(o))
    sig = _sign(st, nv)
    blocks = _carry(st, [d for _, d in entries])
    _enter_view(st, nv, cp, out)
    st.vc.nv_sent = _broadcast(st, nv, sig, out, blocks)


def _on_new_view(
    st: ReplicaState, sender: int, nv: NewView, blocks: tuple[bytes, ...], out: list[Action]
) -> None:
    if nv.view < st.view or (nv.view == st.view and st.active):
        return
    if sender != st.primary(nv.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_NEW_VIEW, "new view not from its primary")
    cp, entries = check_new_view(st.config.verifier, nv, st.primary)
    _store_blocks(st, blocks, dict((d, h) for h, d in entries))
    _enter_view(st, nv, cp, out)


def _enter_view(st: ReplicaState, nv: NewView, cp: CheckpointProof, out: list[Action]) -> None:
    """Adopt min-s's checkpoint, log O as pre-prepares of the new view, prepare them."""
    assert st.log.stable is not None
    st.view, st.active = nv.view, True
    st.sync.active_view, st.sync.view_since_ms = nv.view, st.sync.now_ms
    st.vc.sent = None
    st.vc.received = {v: s for v, s in st.vc.received.items() if v > nv.view}
    st.sync.vc_seen_at = {v: t for v, t in st.sync.vc_seen_at.items() if v in st.vc.received}
    if cp.height > st.log.stable.height:
        _make_stable(st, cp)
    for e in nv.pre_prepares:
        if e.height <= st.low:
            continue
        slot = _slot(st, nv.view, e.height)
        slot.pp_hash, slot.pp_sig = e.block_hash, e.signature
        st.log.block_height.setdefault(e.block_hash, e.height)
    out.append(Persist(record(st)))
    _arm_view_timer(st, out)
    for e in nv.pre_prepares:
        _try_prepare(st, nv.view, e.height, out)
    if st.log.last_committed < cp.height:
        _request_fetch(st, tuple(s.sender for s in nv.view_changes), out)
    _try_commit(st, out)
    _replay_held(st, out)
    _maybe_propose(st, out)


# --- view synchronization (after §4.5.2) ------------------------------------------------
#
# After a fault heals, one replica R is often left alone in a higher view w, inactive: it
# sent VIEW-CHANGE for w while cut off, never gathered 2f+1 for it (so its timer only
# retransmits, §4.5.2), and the others committed on in a lower view v with a bare quorum.
# R still commits (it follows the COMMITs of view v), but it no longer votes, so the next
# single fault stalls the chain. R must be brought back.
#
# R must NOT rejoin v. PBFT's safety rests on the promise of a signed VIEW-CHANGE for w:
# "my prepared set is P, and I will never again send PREPARE or COMMIT in a view below w".
# A NEW-VIEW for w may be built from R's VIEW-CHANGE. Counter-example (n = 3f+1): R sends
# VC(w), then rejoins v; height h commits in v with the prepare quorum {R} + A + Byz (A =
# f honest, Byz = f faulty); a NEW-VIEW for w built from {R's stale VC} + B + Byz (B = the
# other f honest, which left v before h, e.g. partitioned) misses h's prepare and
# re-proposes another block at h, which the members of A that prepared but had not yet
# committed accept: two blocks committed at one height. Knowing that f+1 replicas are
# active in v with commits beyond R's VIEW-CHANGE does not help: such a certificate only
# shows that some member of B was in v earlier.
#
# So the others move *up* to R instead. Sending VIEW-CHANGE for a higher view is always
# safe in PBFT (it is what a timer expiry does, and safety never depends on when timers
# fire: §4.4's proof holds in any asynchronous schedule), so these rules can only cost
# liveness. The bounds below keep a Byzantine replica from abusing them.


def _jump_target(st: ReplicaState) -> int | None:
    """During a view change, the lowest view x >= ours in which 2f+1 replicas can meet,
    if above ours: each replica is counted at the highest view of the VIEW-CHANGEs we hold
    from it (ourselves at our view), and one at or below x can still move up to x.

    Instead of climbing one view per doubled timeout to a replica that waits alone above
    (the §4.5.2 timer only runs once 2f+1 VIEW-CHANGEs for our view are in, which never
    happens while fewer than 2f+1 replicas are at or below it), go straight to where a
    quorum can form. Safe: only a VIEW-CHANGE for a higher view. Abuse bound: faulty
    replicas can set at most f of the counted views, and x is capped at n + 1 views above
    the last view this replica was active in, so they can push it at most that far per
    view installed (view numbers stay far from overflow; §4.5.2's f+1 rule still governs
    the rest)."""
    if st.active:
        return None
    highest: dict[int, int] = {}
    for v, vcs in st.vc.received.items():
        for s in vcs:
            if s != st.config.me and v > highest.get(s, -1):
                highest[s] = v
    views = sorted([st.view, *highest.values()])
    if len(views) < st.config.quorum:
        return None
    x = views[st.config.quorum - 1]
    if x <= st.view or x > st.sync.active_view + st.config.n + 1:
        return None
    return x


def _sync_target(st: ReplicaState) -> int | None:
    """While active in view v and committing, the view w to move up to: the lowest view
    above v for which we hold a (valid) VIEW-CHANGE from another replica, once we have
    held it for SYNC_AFTER_TIMEOUTS view timeouts, counted from when it arrived or from
    when we entered v, whichever is later.

    Each honest replica decides this on its own; as soon as f+1 replicas want views above
    v (the one stuck in w included), §4.5.2's f+1 rule moves the rest to w at once. Safe:
    only a VIEW-CHANGE for a higher view. Abuse bound: a faulty replica that keeps a
    VIEW-CHANGE for a higher view standing causes at most one view change per wait, and
    each sync doubles the wait (up to 2**MAX_BACKOFF) until a full wait passes with no
    VIEW-CHANGE above us, so a persistent attacker gets ever rarer view changes; w is at
    most n views above v, so views cannot be pushed far either. An honest lone replica is
    at most one view above (it climbs only with 2f+1 VIEW-CHANGEs for its view, f+1 of them
    honest and so at least one of them among the honest replicas still in v).
    Time is the local clock of received messages (``now_ms`` never goes back): a clock
    stepped back only delays a sync, one stepped forward can bring one sync early.
    """
    if not st.active or st.progress_view != st.view:
        return None  # a view change is underway, or this view has not committed yet
    wait = (SYNC_AFTER_TIMEOUTS * st.config.timeout_ms) << st.sync.backoff
    above = [v for v, vcs in st.vc.received.items() if v > st.view and any(s != st.config.me for s in vcs)]
    if not above:
        if st.sync.backoff and st.sync.now_ms - st.sync.view_since_ms >= wait:
            st.sync.backoff = 0  # a calm period: the next lone replica is synced promptly
        return None
    w = min(above)
    if w > st.view + st.config.n:
        return None
    since = max(st.sync.vc_seen_at.get(w, st.sync.now_ms), st.sync.view_since_ms)
    if st.sync.now_ms - since < wait:
        return None
    return w


def _certified_view(st: ReplicaState, ev: FetchedBlocks) -> int | None:
    """A view above ours in which blocks we just fetched were certified (the highest).

    A commit certificate holds 2f+1 COMMITs of its view, so at least f+1 honest replicas
    entered that view: we are behind (e.g. we formed a view of our own with stale help
    while the others went on without us), and asking for that view at once beats waiting
    for our timer. Only a VIEW-CHANGE for a higher view (safe), and faulty replicas cannot
    forge the view: the certificates were verified before their blocks were committed."""
    views = [c.view for b, c in ev.blocks if st.log.committed.get(c.height) == c.block_hash]
    w = max(views, default=-1)
    return w if w > st.view else None


def _maybe_sync(st: ReplicaState, out: list[Action]) -> None:
    """Move up to the view a replica is stuck in (``_sync_target``), as a VIEW-CHANGE."""
    w = _sync_target(st)
    if w is None:
        return
    st.sync.backoff = min(st.sync.backoff + 1, MAX_BACKOFF)
    st.progress_view = w - 1  # the view was committing: the move is not a failed view
    _start_view_change(st, w, out)
