"""Normal-case operation (§4.2): pre-prepare, prepare, commit, in height order.

* primary(v) = v mod n. It asks the node for a block (``RequestProposal``) for
  h = last committed + 1 and multicasts ``<PRE-PREPARE, v, h, d>`` with the block.
* A backup accepts it under the conditions of ``accept_pre_prepare``; it then multicasts
  PREPARE -- once the application validated the block on top of its committed block h-1
  (so honest replicas prepare h only after committing h-1: blocks chain by hash).
* prepared(v, h, d) at i: the pre-prepare and 2f matching PREPAREs from distinct backups.
  Then i multicasts COMMIT. committed-local: 2f+1 matching COMMITs from distinct replicas
  in one view (possibly including its own); those COMMITs are the commit certificate.
  Blocks commit strictly in height order.

PRE-PREPARE, PREPARE and COMMIT for a view not entered yet (the NEW-VIEW may be late) are
held (``early``, ``hold``) and replayed on entering their view (``replay_held``).
"""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.certificate import CommitCertificate
from consensus.events import Action, CommitBlock, ProposalReady, RequestProposal
from consensus.messages import Commit, ConsensusMessage, Prepare, PreparedProof, PrePrepare, VoteSig
from consensus.replica import signing, timers, view_change
from consensus.replica.state import (
    FUTURE_VIEWS,
    HOLD_PER_SENDER,
    PHASE_COMMIT,
    PHASE_PRE_PREPARE,
    PHASE_PREPARE,
    ReplicaState,
    Slot,
    Stale,
)
from consensus.timeliness import is_timely


def slot_at(st: ReplicaState, view: int, height: int) -> Slot:
    s = st.log.slots.get((view, height))
    if s is None:
        s = st.log.slots[(view, height)] = Slot()
    return s


def validate(st: ReplicaState, height: int, digest: bytes) -> bool:
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


def maybe_propose(st: ReplicaState, out: list[Action]) -> None:
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


def on_proposal(st: ReplicaState, ev: ProposalReady, out: list[Action]) -> None:
    h, v = ev.height, ev.view
    if not st.active or v != st.view or st.primary(v) != st.config.me:
        raise ConsensusError(ErrorCode.CONSENSUS_WRONG_VIEW, f"not primary of view {v} now")
    if h != st.log.last_committed + 1 or h > st.high or h <= st.low:
        raise ConsensusError(ErrorCode.CONSENSUS_OUT_OF_WINDOW, f"cannot propose height {h} now")
    slot = slot_at(st, v, h)
    if slot.pp_hash is not None:
        raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, f"already proposed at height {h}")
    digest = st.config.app.block_hash(ev.block)
    st.log.blocks[digest] = ev.block
    st.log.block_height[digest] = h
    if not validate(st, h, digest):
        raise ConsensusError(ErrorCode.CONSENSUS_INVALID_BLOCK, f"own proposal for {h} invalid")
    sig = signing.cast(st, PHASE_PRE_PREPARE, PrePrepare(v, h, digest), out, (ev.block,))
    slot.pp_hash, slot.pp_sig, slot.validated = digest, sig, True
    check_prepared(st, v, h, out)


def require_window(st: ReplicaState, view: int, height: int, any_older_view: bool) -> None:
    if view > st.view or (not any_older_view and (view != st.view or not st.active)):
        raise ConsensusError(ErrorCode.CONSENSUS_WRONG_VIEW, f"message for view {view}")
    if height <= st.low:
        raise Stale()  # garbage-collected height: harmless, not counted
    if height > st.high:
        raise ConsensusError(
            ErrorCode.CONSENSUS_OUT_OF_WINDOW, f"height {height} outside ({st.low}, {st.high}]"
        )


def store_blocks(st: ReplicaState, blocks: tuple[bytes, ...], wanted: dict[bytes, int]) -> None:
    """Keep the carried blocks whose hash we need (unsigned bytes are checked by hash)."""
    for b in blocks:
        d = st.config.app.block_hash(b)
        if d in wanted and d not in st.log.blocks:
            st.log.blocks[d] = b
            st.log.block_height[d] = wanted[d]


def accept_pre_prepare(
    st: ReplicaState, sender: int, pp: PrePrepare, blocks: tuple[bytes, ...]
) -> bool:
    """§4.2: "A backup accepts a pre-prepare message provided:

    1. the signatures in the request and the pre-prepare message are correct and d is the
       digest for m;
    2. it is in view v;
    3. it has not accepted a pre-prepare message for view v and sequence number n
       containing a different digest;
    4. the sequence number in the pre-prepare message is between a low water mark, h,
       and a high water mark, H."

    Checked here in the order below; the request m is the block, carried in the message.
    True: accept it now. False: already accepted (the same digest again, nothing to do).
    Refused: ``ConsensusError`` with the code of the first condition it fails (the caller
    counts it), or ``Stale`` for a height at or below h (garbage-collected, not counted).
    """
    # (1) the pre-prepare's signature: checked on receipt (``entry.on_message``), before
    # any rule runs; here, that the signer is primary(v)
    # (2) in view v, and not changing view; (4) h < n <= H
    require_window(st, pp.view, pp.height, any_older_view=False)
    if sender != st.primary(pp.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "pre-prepare not from the primary")
    # (3) no pre-prepare accepted for (v, n) with another digest
    slot = slot_at(st, pp.view, pp.height)
    if slot.pp_hash is not None:
        if slot.pp_hash != pp.block_hash:
            raise ConsensusError(
                ErrorCode.CONSENSUS_CONFLICT, f"second pre-prepare for height {pp.height}"
            )
        return False
    # (1) d is the digest of m: only a carried block whose hash is d is kept
    store_blocks(st, blocks, {pp.block_hash: pp.height})
    if pp.block_hash not in st.log.blocks:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "pre-prepare without its block")
    return True


def on_pre_prepare(
    st: ReplicaState,
    sender: int,
    pp: PrePrepare,
    sig: bytes,
    blocks: tuple[bytes, ...],
    at_ms: int,
    out: list[Action],
) -> None:
    """Log an accepted pre-prepare, note whether its block time is timely (PBTS: an
    untimely one is logged but never prepared), and prepare it if it is ready."""
    if not accept_pre_prepare(st, sender, pp, blocks):
        return
    slot = st.log.slots[(pp.view, pp.height)]
    slot.pp_hash, slot.pp_sig = pp.block_hash, sig
    block_time = st.config.app.block_time_ms(st.log.blocks[pp.block_hash])
    slot.timely = block_time is not None and is_timely(
        block_time, at_ms, st.config.precision_ms, st.config.msg_delay_ms
    )
    if not slot.timely:
        st.stats.rejected[str(ErrorCode.CONSENSUS_UNTIMELY)] += 1
    try_prepare(st, pp.view, pp.height, out)


def try_prepare(st: ReplicaState, v: int, h: int, out: list[Action]) -> None:
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
        ok = validate(st, h, d)
        if not ok and d in st.log.blocks and st.hash_at(h - 1) is not None:
            # The primary proposed a block the application rejects: misbehaviour, so do
            # not wait for the timer (every honest replica reaches the same verdict).
            st.stats.rejected[str(ErrorCode.CONSENSUS_INVALID_BLOCK)] += 1
            slot.validated = False
            slot.sent_prepare = True  # never prepare it
            view_change.start_view_change(st, st.view + 1, out)
            return
    else:
        return  # wait until h-1 commits
    if not ok:
        return
    slot.validated = True
    if st.primary(v) == st.config.me:
        check_prepared(st, v, h, out)
        return
    sig = signing.cast(st, PHASE_PREPARE, Prepare(v, h, d), out)
    slot.sent_prepare = True
    slot.prepares.setdefault(d, {})[st.config.me] = sig
    check_prepared(st, v, h, out)


def on_prepare(st: ReplicaState, sender: int, p: Prepare, sig: bytes, out: list[Action]) -> None:
    require_window(st, p.view, p.height, any_older_view=False)
    if sender == st.primary(p.view):
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, "prepare from the primary")
    slot = slot_at(st, p.view, p.height)
    for d, sigs in slot.prepares.items():
        if sender in sigs and d != p.block_hash:
            raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, "sender prepared another block")
    slot.prepares.setdefault(p.block_hash, {}).setdefault(sender, sig)
    check_prepared(st, p.view, p.height, out)


def check_prepared(st: ReplicaState, v: int, h: int, out: list[Action]) -> None:
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
    sig = signing.cast(st, PHASE_COMMIT, Commit(v, h, d), out)
    slot.sent_commit = True
    slot.commits.setdefault(d, {})[st.config.me] = sig
    try_commit(st, out)


def on_commit(st: ReplicaState, sender: int, c: Commit, sig: bytes, out: list[Action]) -> None:
    # COMMITs of older views still count: 2f+1 of them in one view make a certificate.
    require_window(st, c.view, c.height, any_older_view=True)
    slot = slot_at(st, c.view, c.height)
    for d, sigs in slot.commits.items():
        if sender in sigs and d != c.block_hash:
            raise ConsensusError(ErrorCode.CONSENSUS_CONFLICT, "sender committed another block")
    slot.commits.setdefault(c.block_hash, {}).setdefault(sender, sig)
    try_commit(st, out)


def certificate_at(st: ReplicaState, h: int) -> CommitCertificate | None:
    for (v, height), slot in sorted(st.log.slots.items()):
        if height != h:
            continue
        for d, sigs in sorted(slot.commits.items()):
            if len(sigs) >= st.config.quorum and d in st.log.blocks:
                chosen = sorted(sigs.items())[: st.config.quorum]
                return CommitCertificate(h, v, d, tuple(VoteSig(i, s) for i, s in chosen))
    return None


def try_commit(st: ReplicaState, out: list[Action]) -> None:
    """Commit heights in order while a certificate for the next one is at hand."""
    while True:
        h = st.log.last_committed + 1
        cert = certificate_at(st, h)
        if cert is None or not validate(st, h, cert.block_hash):
            return
        commit(st, cert, st.log.blocks[cert.block_hash], out)


def commit(st: ReplicaState, cert: CommitCertificate, block: bytes, out: list[Action]) -> None:
    h = cert.height
    st.log.last_committed = h
    st.log.committed[h] = cert.block_hash
    out.append(CommitBlock(h, block, cert))
    if st.active and cert.view == st.view:  # a fetched certificate of another view is no
        st.progress_view = st.view  # sign that our primary works: it must not hold us here
        timers.arm_view_timer(st, out)  # progress: the primary is doing its job
    try_prepare(st, st.view, h + 1, out)
    maybe_propose(st, out)


def early(st: ReplicaState, view: int) -> bool:
    """A message for a view we have not entered (yet): the NEW-VIEW may be late."""
    return st.view < view <= st.view + FUTURE_VIEWS or (view == st.view and not st.active)


def hold(st: ReplicaState, msg: ConsensusMessage, at_ms: int) -> None:
    """Keep a (verified) early message, with the time it arrived, to replay on entering its
    view; bounded per sender."""
    held = st.vc.held.setdefault(msg.sender, [])
    if all(m != msg for m, _ in held):
        held.append((msg, at_ms))
        del held[:-HOLD_PER_SENDER]


def replay_held(st: ReplicaState, out: list[Action]) -> None:
    """On entering a view: handle the messages held for it (signatures were checked when
    they arrived), keep those for views still ahead."""
    held, st.vc.held = st.vc.held, {}
    for msgs in held.values():
        for m, at_ms in msgs:
            body = m.body
            assert isinstance(body, PrePrepare | Prepare | Commit)  # only these are held
            if early(st, body.view):
                hold(st, m, at_ms)
            elif body.view == st.view:
                try:
                    if isinstance(body, PrePrepare):
                        on_pre_prepare(st, m.sender, body, m.signature, m.blocks, at_ms, out)
                    elif isinstance(body, Prepare):
                        on_prepare(st, m.sender, body, m.signature, out)
                    else:
                        on_commit(st, m.sender, body, m.signature, out)
                except ConsensusError as e:
                    st.stats.rejected[str(e.code)] += 1
                except Stale:
                    pass
