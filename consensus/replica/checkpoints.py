"""Checkpoints and garbage collection (§4.3): a CHECKPOINT every ``interval`` heights,
stable with 2f+1 matching ones we executed to the same state; the low and high water
marks move up with it. (The checkpoint messages and proofs: ``consensus.checkpoint``.)"""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.events import Action, Executed
from consensus.messages import Checkpoint, CheckpointProof
from consensus.replica import fetching, signing
from consensus.replica.state import ReplicaState


def on_executed(st: ReplicaState, ev: Executed, out: list[Action]) -> None:
    d = st.log.committed.get(ev.height)
    if d is None or ev.height > st.log.last_committed:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_MESSAGE, f"height {ev.height} not committed")
    st.log.roots[ev.height] = ev.state_root
    if ev.height % st.config.interval == 0 and ev.height > st.low:
        cp = Checkpoint(ev.height, d, ev.state_root)
        sig = signing.sign(st, cp)
        st.log.checkpoints.add(st.config.me, cp, sig)
        signing.broadcast(st, cp, sig, out)
        check_stable(st, out)


def on_checkpoint(
    st: ReplicaState, sender: int, cp: Checkpoint, sig: bytes, out: list[Action]
) -> None:
    if cp.height <= st.low or cp.height % st.config.interval != 0:
        return
    fetching.note_height(st, sender, cp.height, out)
    if cp.height > st.high + 2 * st.config.interval:
        raise ConsensusError(ErrorCode.CONSENSUS_OUT_OF_WINDOW, "checkpoint too far ahead")
    st.log.checkpoints.add(sender, cp, sig)
    check_stable(st, out)


def check_stable(st: ReplicaState, out: list[Action]) -> None:
    """Adopt the highest checkpoint with 2f+1 matching votes that we executed to the same
    state; a proven checkpoint above our chain is evidence we are behind (fetch)."""
    for cp in reversed(st.log.checkpoints.quorum_above(st.low, st.config.quorum)):
        if cp.height > st.log.last_committed:
            fetching.request_fetch(st, tuple(st.log.checkpoints.votes[cp]), out)
            continue
        if st.log.committed.get(cp.height) == cp.block_hash and st.log.roots.get(cp.height) == (
            cp.state_root
        ):
            proof = st.log.checkpoints.proof(cp, st.config.quorum)
            assert proof is not None
            make_stable(st, proof)
            return


def make_stable(st: ReplicaState, proof: CheckpointProof) -> None:
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
