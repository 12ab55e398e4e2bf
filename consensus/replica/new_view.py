"""View changes (§4.4), after leaving the view (``view_change``): the others'
VIEW-CHANGEs with the liveness rules of §4.5.2 (join once f+1 replicas ask for higher
views, the timer that doubles for each consecutive view change), the NEW-VIEW of the new
primary, and entering the new view, which runs the normal case again. (Checking and
building the messages: ``consensus.viewchange``.)"""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.events import Action, Persist, Send
from consensus.messages import (
    CheckpointProof,
    ConsensusMessage,
    NewView,
    NewViewEntry,
    PrePrepare,
    SignedViewChange,
    ViewChange,
)
from consensus.replica import (
    checkpoints,
    fetching,
    normal_case,
    signing,
    timers,
    view_change,
    view_sync,
)
from consensus.replica.state import PHASE_PRE_PREPARE, VC_VIEWS_PER_SENDER, ReplicaState
from consensus.viewchange import check_new_view, check_view_change, compute_new_view


def change_view(st: ReplicaState, new_view: int, out: list[Action]) -> None:
    """Leave the view for ``new_view`` (VIEW-CHANGE), and form it at once if we are its
    primary and 2f+1 VIEW-CHANGEs for it are already in."""
    if new_view <= st.view:
        return
    view_change.start_view_change(st, new_view, out)
    try_new_view(st, out)


def on_view_change(
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
    normal_case.store_blocks(st, blocks, {p.block_hash: p.height for p in vc.prepared})
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
        change_view(st, min(v for v, _ in above), out)
    jump = view_sync.jump_target(st)
    if jump is not None:
        # skipped views are not failed views: the timeout doubles once for the jump
        st.progress_view = min(st.progress_view + jump - st.view - 1, jump - 1)
        change_view(st, jump, out)
    if (
        vc.new_view == st.view
        and not st.active
        and not st.timers.vc_running
        and len(st.vc.received.get(st.view, {})) >= st.config.quorum
    ):
        timers.arm_view_change_timer(st, out)
    try_new_view(st, out)


def try_new_view(st: ReplicaState, out: list[Action]) -> None:
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
        signing.vote(st, PHASE_PRE_PREPARE, v, h, d)
        o.append(NewViewEntry(h, d, signing.sign(st, PrePrepare(v, h, d))))
    nv = NewView(v, tuple(sorted((s for s, _ in chosen), key=lambda s: s.sender)), tuple(o))
    sig = signing.sign(st, nv)
    blocks = view_change.carry(st, [d for _, d in entries])
    enter_view(st, nv, cp, out)
    st.vc.nv_sent = signing.broadcast(st, nv, sig, out, blocks)


def on_new_view(
    st: ReplicaState, sender: int, nv: NewView, blocks: tuple[bytes, ...], out: list[Action]
) -> None:
    if nv.view < st.view or (nv.view == st.view and st.active):
        return
    if sender != st.primary(nv.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_NEW_VIEW, "new view not from its primary")
    cp, entries = check_new_view(st.config.verifier, nv, st.primary)
    normal_case.store_blocks(st, blocks, dict((d, h) for h, d in entries))
    enter_view(st, nv, cp, out)


def enter_view(st: ReplicaState, nv: NewView, cp: CheckpointProof, out: list[Action]) -> None:
    """Adopt min-s's checkpoint, log O as pre-prepares of the new view, prepare them."""
    assert st.log.stable is not None
    st.view, st.active = nv.view, True
    st.sync.active_view, st.sync.view_since_ms = nv.view, st.sync.now_ms
    st.vc.sent = None
    st.vc.received = {v: s for v, s in st.vc.received.items() if v > nv.view}
    st.sync.vc_seen_at = {v: t for v, t in st.sync.vc_seen_at.items() if v in st.vc.received}
    if cp.height > st.log.stable.height:
        checkpoints.make_stable(st, cp)
    for e in nv.pre_prepares:
        if e.height <= st.low:
            continue
        slot = normal_case.slot_at(st, nv.view, e.height)
        slot.pp_hash, slot.pp_sig = e.block_hash, e.signature
        st.log.block_height.setdefault(e.block_hash, e.height)
    out.append(Persist(signing.record(st)))
    timers.arm_view_timer(st, out)
    for e in nv.pre_prepares:
        normal_case.try_prepare(st, nv.view, e.height, out)
    if st.log.last_committed < cp.height:
        fetching.request_fetch(st, tuple(s.sender for s in nv.view_changes), out)
    normal_case.try_commit(st, out)
    normal_case.replay_held(st, out)
    normal_case.maybe_propose(st, out)
