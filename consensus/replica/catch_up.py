"""Catch-up: a replica behind the others (f+1 of them speak of heights above its next
one, or a proven checkpoint is above its chain) fetches committed blocks with their
certificates and commits them in order, each checked before it is applied."""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.certificate import check_certificate
from consensus.events import Action, Fetch, FetchedBlocks, SetTimer
from consensus.replica import checkpoints, normal_case, view_change, view_sync
from consensus.replica.state import FETCH_TIMER, ReplicaState


def note_height(st: ReplicaState, sender: int, height: int, out: list[Action]) -> None:
    if height > st.catchup.claimed.get(sender, 0):
        st.catchup.claimed[sender] = height
        if height > st.log.last_committed + 1:
            check_behind(st, out)


def check_behind(st: ReplicaState, out: list[Action]) -> None:
    """f+1 validators speaking about heights above our next one: at least one honest
    replica committed beyond us, so fetch certified blocks instead of waiting."""
    ahead = tuple(sorted(i for i, h in st.catchup.claimed.items() if h > st.log.last_committed + 1))
    if len(ahead) >= st.config.f + 1:
        request_fetch(st, ahead, out)


def request_fetch(st: ReplicaState, peers: tuple[int, ...], out: list[Action]) -> None:
    peers = tuple(p for p in peers if p != st.config.me)
    if st.catchup.fetching is not None or not peers:
        return
    st.catchup.fetching = st.log.last_committed + 1
    out.append(Fetch(st.log.last_committed + 1, peers))
    st.timers.token += 1
    st.timers.fetch_token = st.timers.token
    out.append(SetTimer(FETCH_TIMER, st.timers.token, st.config.timeout_ms))


def on_fetched(st: ReplicaState, ev: FetchedBlocks, out: list[Action]) -> None:
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
        if not normal_case.validate(st, h, d):
            raise ConsensusError(ErrorCode.CONSENSUS_INVALID_BLOCK, f"fetched block {h} invalid")
        normal_case.commit(st, cert, block, out)
    normal_case.try_commit(st, out)
    checkpoints.check_stable(st, out)
    check_behind(st, out)
    w = view_sync.certified_view(st, ev)
    if w is not None:
        view_change.start_view_change(st, w, out)
