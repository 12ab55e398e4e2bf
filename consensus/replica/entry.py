"""The replica's entry points: ``init_state`` (restored from a ``SafetyRecord`` after a
restart), ``step`` and the routing of each event and message to its section, the
start-up and timer-expiry rules, and the messages held for a view not entered yet."""

from __future__ import annotations

import nacl.bindings as sodium

from ballot_tx.errors import ConsensusError, ErrorCode
from ballot_tx.keys import KeyPair
from consensus.checkpoint import check_checkpoint_proof, genesis_checkpoint
from consensus.events import (
    Action,
    App,
    ClientWork,
    Event,
    Executed,
    FetchedBlocks,
    ProposalReady,
    Received,
    SafetyRecord,
    Start,
    TimerFired,
)
from consensus.messages import (
    Checkpoint,
    Commit,
    ConsensusMessage,
    NewView,
    Prepare,
    PrePrepare,
    SignedViewChange,
    ViewChange,
)
from consensus.replica import (
    catch_up,
    checkpoints,
    fetching,
    new_view,
    normal_case,
    signing,
    timers,
    view_sync,
)
from consensus.replica.state import FETCH_TIMER, VIEW_TIMER, Config, ReplicaState, Stale
from consensus.verify import Verifier
from genesis.document import Genesis


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
        restore(st, persisted)
    return st


def restore(st: ReplicaState, rec: SafetyRecord) -> None:
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
        st.vc.mine[vc.new_view] = (vc, signing.sign(st, vc), ())  # Ed25519 is deterministic: same signature
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
    was_waiting, view_token = timers.waiting(st), st.timers.view_token
    try:
        if isinstance(event, Received):
            st.sync.now_ms = max(st.sync.now_ms, event.at_ms)
            on_message(st, event.message, event.at_ms, out)
        elif isinstance(event, TimerFired):
            on_timer(st, event, out)
        elif isinstance(event, ProposalReady):
            normal_case.on_proposal(st, event, out)
        elif isinstance(event, Executed):
            checkpoints.on_executed(st, event, out)
            normal_case.maybe_propose(st, out)  # a stable checkpoint raises the high water mark
        elif isinstance(event, FetchedBlocks):
            catch_up.on_fetched(st, event, out)
        elif isinstance(event, ClientWork):
            st.timers.client_work = event.pending
        elif isinstance(event, Start):
            on_start(st, out)
        # A rule below the view change (an invalid proposal, §4.2) may have left the view
        # for one whose 2f+1 VIEW-CHANGEs are already in: as its primary, form it now.
        new_view.try_new_view(st, out)
    except ConsensusError as e:
        st.stats.rejected[str(e.code)] += 1
    except Stale:
        pass
    timers.start_on_request(st, was_waiting, view_token, out)
    if isinstance(event, Received) and isinstance(event.message.body, ViewChange):
        # a lone replica re-sends its VIEW-CHANGE every timeout: decide on its arrival,
        # so the node logs the move as reason=peers
        try:
            w = view_sync.sync_view(st)
            if w is not None:
                new_view.change_view(st, w, out)
        except ConsensusError as e:
            st.stats.rejected[str(e.code)] += 1
    return st, out


def on_start(st: ReplicaState, out: list[Action]) -> None:
    if not st.active and st.vc.sent is not None and st.vc.sent.new_view == st.view:
        sig = signing.sign(st, st.vc.sent)  # the same VIEW-CHANGE again (Ed25519 is deterministic)
        st.vc.sent_sig = sig
        st.vc.received.setdefault(st.view, {})[st.config.me] = (
            SignedViewChange(st.config.me, st.vc.sent, sig),
            (),
        )
        signing.broadcast(st, st.vc.sent, sig, out)
        timers.arm_view_change_timer(st, out)
    else:
        timers.arm_view_timer(st, out)
    if st.log.last_committed < st.low:
        fetching.request_fetch(st, tuple(range(st.config.n)), out)  # the record's checkpoint is ahead of our chain
    normal_case.maybe_propose(st, out)


def on_timer(st: ReplicaState, ev: TimerFired, out: list[Action]) -> None:
    if ev.name == VIEW_TIMER and ev.token == st.timers.view_token:
        if not st.active and not st.timers.vc_running and st.vc.sent is not None:
            signing.broadcast(st, st.vc.sent, st.vc.sent_sig, out, st.vc.sent_blocks)  # retransmit
            timers.arm_view_change_timer(st, out)
            return
        if st.active and not timers.view_timer_expired(st, out):
            return  # not waiting for a request: nothing to suspect the primary of
        # §4.4: the timer expired in view v -> start a view change to v+1 (a replica still
        # waiting for NEW-VIEW v+1 moves on to v+2 with a doubled timeout, §4.5.2).
        new_view.change_view(st, st.view + 1, out)
    elif ev.name == FETCH_TIMER and ev.token == st.timers.fetch_token:
        st.catchup.fetching = None
        if st.log.last_committed < st.low:
            # our stable checkpoint (e.g. from a NEW-VIEW) is above our chain and the peer
            # asked had nothing (it lagged too): ask again, the checkpoint's signers
            # executed that far. Once per timeout. Without this a lagging replica that
            # becomes primary right after a view sync never proposes (sim seed 2347, n=7).
            assert st.log.stable is not None
            fetching.request_fetch(st, tuple(s.validator for s in st.log.stable.sigs), out)
        fetching.check_behind(st, out)


def on_message(st: ReplicaState, msg: ConsensusMessage, at_ms: int, out: list[Action]) -> None:
    st.config.verifier.require(msg.sender, msg.body, msg.signature, type(msg.body).__name__)
    body = msg.body
    view = body.new_view if isinstance(body, ViewChange) else getattr(body, "view", 0)
    if view > st.vc.sender_view.get(msg.sender, 0):
        st.vc.sender_view[msg.sender] = view
    if isinstance(body, PrePrepare | Prepare | Commit):
        fetching.note_height(st, msg.sender, body.height, out)
        if normal_case.early(st, body.view):
            normal_case.hold(st, msg, at_ms)
        elif isinstance(body, PrePrepare):
            normal_case.on_pre_prepare(st, msg.sender, body, msg.signature, msg.blocks, at_ms, out)
        elif isinstance(body, Prepare):
            normal_case.on_prepare(st, msg.sender, body, msg.signature, out)
        else:
            normal_case.on_commit(st, msg.sender, body, msg.signature, out)
    elif isinstance(body, Checkpoint):
        checkpoints.on_checkpoint(st, msg.sender, body, msg.signature, out)
        normal_case.maybe_propose(st, out)  # a stable checkpoint raises the high water mark
    elif isinstance(body, ViewChange):
        new_view.on_view_change(st, msg.sender, body, msg.signature, msg.blocks, out)
    elif isinstance(body, NewView):
        new_view.on_new_view(st, msg.sender, body, msg.blocks, out)
