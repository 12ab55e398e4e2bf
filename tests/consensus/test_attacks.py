"""Issue 11's attacks on the replica: a Byzantine primary's block time (PBTS), and
messages that would outgrow the consensus message limit."""

from __future__ import annotations

from consensus.events import Persist, Received, Start, TimerFired
from consensus.messages import (
    MAX_MESSAGE_SIZE,
    ConsensusMessage,
    NewView,
    Prepare,
    PrePrepare,
    SignedViewChange,
    ViewChange,
    encode_message,
)
from consensus.replica import step
from consensus.sim.app import make_block
from consensus.timeliness import is_timely
from tests.consensus.fixtures import Net, sends

NET = Net(4)
P = NET.genesis.params.time_precision_ms
D = NET.genesis.params.time_msg_delay_ms
NOW = 1_000_000


def proposal(time_ms: int, view: int = 0, nonce: int = 0) -> tuple[bytes, ConsensusMessage]:
    block = make_block(1, NET.chain_id, view % 4, nonce, True, time_ms)
    return block, NET.msg(view % 4, PrePrepare(view, 1, NET.digest(block)), (block,))


def test_timeliness_window_edges() -> None:
    assert is_timely(NOW - P - D, NOW, P, D) and is_timely(NOW + P, NOW, P, D)
    assert not is_timely(NOW - P - D - 1, NOW, P, D) and not is_timely(NOW + P + 1, NOW, P, D)


def test_untimely_proposals_are_not_prepared() -> None:
    """A primary holding block time back (to keep the polls open) or pushing it ahead (to
    close them early): the backup refuses to prepare, counts CONSENSUS_UNTIMELY, and
    prepares the same kind of block when its time is within the window."""
    for t in (NOW - P - D - 1, NOW - 3_600_000, NOW + P + 1):
        st = NET.replica(1)
        st, _ = step(st, Start())
        _, msg = proposal(t)
        st, actions = step(st, Received(msg, NOW))
        assert not [a for a in actions if isinstance(a, Persist)] and not sends(actions)
        assert st.stats.rejected["CONSENSUS_UNTIMELY"] == 1
    for t in (NOW - P - D, NOW, NOW + P):
        st = NET.replica(1)
        st, _ = step(st, Start())
        block, msg = proposal(t)
        st, actions = step(st, Received(msg, NOW))
        assert Prepare(0, 1, NET.digest(block)) in [m.body for m in sends(actions)]


def test_untimely_proposal_leads_to_a_view_change_and_reproposal_is_exempt() -> None:
    """The untimely block is left to the view timer; a block prepared by 2f+1 in an
    earlier view and re-proposed in NEW-VIEW is prepared whatever its time."""
    st = NET.replica(2)
    st, actions = step(st, Start())
    token = next(a.token for a in actions if hasattr(a, "token"))
    block, msg = proposal(NOW - 10 * (P + D))
    st, _ = step(st, Received(msg, NOW))
    st, actions = step(st, TimerFired("view", token))
    assert st.view == 1 and not st.active
    d = NET.digest(block)
    vc = NET.view_change(1, prepared=(NET.prepared(0, 1, d),))
    vcs = tuple(SignedViewChange(i, vc, NET.sign(i, vc)) for i in (0, 1, 3))
    from consensus.messages import NewViewEntry

    nv = NewView(1, vcs, (NewViewEntry(1, d, NET.sign(1, PrePrepare(1, 1, d))),))
    st, actions = step(st, Received(NET.msg(1, nv, (block,)), NOW + 5 * 3_600_000))
    assert st.active and Prepare(1, 1, d) in [m.body for m in sends(actions)]


def test_view_change_with_many_full_blocks_fits_the_message_limit() -> None:
    """Attack 3: a backup holding several near-limit prepared blocks must still be able to
    send its VIEW-CHANGE (before, encoding it raised CODEC_OVERSIZE and the node stopped).
    The blocks carried are bounded; the newest (the one a new view must re-propose) is in."""
    st = NET.replica(1)
    st, actions = step(st, Start())
    token = next(a.token for a in actions if hasattr(a, "token"))
    big = [b"B" * (3 << 20) + bytes([h]) for h in (1, 2, 3)]
    for h, b in enumerate(big, start=1):
        d = NET.digest(b)
        st.log.blocks[d] = b
        st.log.block_height[d] = h
        st.log.prepared[h] = NET.prepared(0, h, d)
    st, actions = step(st, TimerFired("view", token))
    vc = [m for m in sends(actions) if isinstance(m.body, ViewChange)]
    assert len(vc) == 1
    assert len(encode_message(vc[0])) <= MAX_MESSAGE_SIZE
    assert big[2] in vc[0].blocks and len(vc[0].blocks) < 3


def test_checkpoint_flood_from_one_validator_is_bounded() -> None:
    """Issue 12, fault 3: a Byzantine validator signing thousands of distinct checkpoints
    (each valid, at heights inside the window) used to grow the log without bound and
    make every later message rescan it. One checkpoint per (sender, height) is kept; the
    rest are refused as CONSENSUS_CONFLICT and change nothing."""
    from consensus.messages import Checkpoint

    st = NET.replica(1)
    st, _ = step(st, Start())
    k = st.config.interval
    heights = [k * i for i in range(1, 4)]
    for j in range(600):
        h = heights[j % len(heights)]
        cp = Checkpoint(h, j.to_bytes(32, "big"), (j + 1).to_bytes(32, "big"))
        st, _ = step(st, Received(NET.msg(3, cp), NOW))
    assert len(st.log.checkpoints.votes) == len(heights)
    assert sum(len(v) for v in st.log.checkpoints.by_sender.values()) == len(heights)
    assert st.stats.rejected["CONSENSUS_CONFLICT"] == 600 - len(heights)


def test_prepared_block_survives_a_restart_and_travels_in_the_view_change() -> None:
    """Issue 12, fault 1: a replica that prepared (sent COMMIT for) a block, then lost
    power with every other validator before the block committed, still has the block's
    bytes after the restart and carries them in its VIEW-CHANGE, so the next primary can
    re-propose it."""
    from consensus.messages import Commit
    from consensus.replica import init_state
    from consensus.sim.base import sim_key

    st = NET.replica(1)
    st, _ = step(st, Start())
    block, msg = proposal(NOW)
    d = NET.digest(block)
    st, _ = step(st, Received(msg, NOW))
    actions = []
    for i in (2, 3):
        st, more = step(st, Received(NET.msg(i, Prepare(0, 1, d)), NOW))
        actions += more
    assert any(isinstance(m.body, Commit) for m in sends(actions))  # prepared: COMMIT sent
    persisted = [a.record for a in actions if isinstance(a, Persist)][-1]
    assert persisted.blocks == (block,) and st.log.last_committed == 0
    # power cut: only the record survives
    again = init_state(NET.genesis, 1, NET.chain_id, sim_key(1), NET.app, persisted=persisted)
    again, actions = step(again, Start())
    token = next(a.token for a in actions if hasattr(a, "token"))
    again, actions = step(again, TimerFired("view", token))
    vc = [m for m in sends(actions) if isinstance(m.body, ViewChange)]
    assert vc and vc[0].blocks == (block,)
    body = vc[0].body
    assert isinstance(body, ViewChange) and body.prepared[0].block_hash == d
