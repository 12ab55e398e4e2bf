"""Catch-up, applying: committed blocks fetched from peers (``fetching`` asked for them)
are committed in order, each only with a valid certificate and an App yes; blocks
certified in a view above ours show we are behind in views too."""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.certificate import check_certificate
from consensus.events import Action, FetchedBlocks
from consensus.replica import checkpoints, fetching, new_view, normal_case, view_sync
from consensus.replica.state import ReplicaState


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
    fetching.check_behind(st, out)
    w = view_sync.certified_view(st, ev)
    if w is not None:
        new_view.change_view(st, w, out)
