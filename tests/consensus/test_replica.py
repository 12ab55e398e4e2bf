"""The step function on hand-made events: rejections are counted and change nothing,
persist-before-send, restart safety, checkpoints, catch-up and fetch validation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.events import (
    CommitBlock,
    Executed,
    Fetch,
    FetchedBlocks,
    Persist,
    ProposalReady,
    Received,
    RequestProposal,
    Send,
    Start,
)
from consensus.messages import (
    Checkpoint,
    Commit,
    ConsensusMessage,
    Prepare,
    PrePrepare,
    ViewChange,
    VoteSig,
    decode_message,
    encode_message,
)
from consensus.replica import init_state, record, step
from consensus.sim.base import sim_key
from tests.consensus.fixtures import Net, sends
from tests.consensus.helpers import quiet

NET = Net(4)
B1 = NET.block(1)
D1 = NET.digest(B1)


def pre_prepare(view: int = 0, height: int = 1, block: bytes = B1, signer: int | None = None) -> ConsensusMessage:
    d = NET.digest(block)
    s = signer if signer is not None else view % 4
    return NET.msg(s, PrePrepare(view, height, d), (block,))


def test_start_arms_timer_and_primary_asks_for_a_block() -> None:
    st, actions = step(NET.replica(0), Start())
    assert [type(a).__name__ for a in actions] == ["SetTimer", "RequestProposal"]
    req = actions[1]
    assert isinstance(req, RequestProposal) and (req.height, req.view, req.prev_hash) == (1, 0, NET.chain_id)
    _, actions = step(NET.replica(1), Start())
    assert [type(a).__name__ for a in actions] == ["SetTimer"]


def test_primary_persists_then_sends_its_pre_prepare() -> None:
    st, _ = step(NET.replica(0), Start())
    st, actions = step(st, ProposalReady(1, 0, B1))
    assert isinstance(actions[0], Persist) and isinstance(actions[1], Send)
    assert actions[1].message.body == PrePrepare(0, 1, D1) and actions[1].message.blocks == (B1,)
    assert any(v.phase == 1 and v.block_hash == D1 for v in actions[0].record.votes)
    # a second (different) proposal for the same height is refused
    st, actions = step(st, ProposalReady(1, 0, NET.block(1, nonce=5)))
    assert actions == [] and st.stats.rejected[ErrorCode.CONSENSUS_CONFLICT] == 1


def test_repr_of_a_signing_replica_shows_no_key_material() -> None:
    """A state printed in a log or a failing assertion must not leak the signing key: neither
    the seed nor the expanded secret the replica caches after its first signature."""
    st, _ = step(NET.replica(0), Start())
    st, _ = step(st, ProposalReady(1, 0, B1))
    assert st.stats.signatures == 1
    text = repr(st)
    seed = sim_key(0).ed25519_seed
    assert "me=0" in text and "view=0" in text
    for secret in (seed, st.config.secret, st.config.secret[:32]):
        assert secret and secret.hex() not in text and repr(secret) not in text


def test_backup_prepares_a_valid_pre_prepare_after_persisting() -> None:
    st, actions = step(NET.replica(1), Received(pre_prepare(), 0))
    assert [type(a).__name__ for a in actions] == ["Persist", "Send"]
    assert actions[1].message.body == Prepare(0, 1, D1)  # type: ignore[union-attr]
    # duplicate delivery: nothing new
    _, again = step(st, Received(pre_prepare(), 0))
    assert again == []


@pytest.mark.parametrize(
    "msg, code",
    [
        (replace(pre_prepare(), signature=bytes(64)), ErrorCode.CONSENSUS_BAD_SIGNATURE),
        (replace(pre_prepare(), sender=7), ErrorCode.CONSENSUS_NOT_VALIDATOR),
        (replace(pre_prepare(), sender=2), ErrorCode.CONSENSUS_BAD_SIGNATURE),  # impersonation
        (pre_prepare(signer=2), ErrorCode.CONSENSUS_BAD_MESSAGE),  # not the primary of view 0
        (pre_prepare(view=5), ErrorCode.CONSENSUS_WRONG_VIEW),  # views 1-2 are held
        (pre_prepare(height=99, block=NET.block(99)), ErrorCode.CONSENSUS_OUT_OF_WINDOW),
        (replace(pre_prepare(), blocks=()), ErrorCode.CONSENSUS_BAD_MESSAGE),  # block missing
        (replace(pre_prepare(), blocks=(NET.block(1, nonce=3),)), ErrorCode.CONSENSUS_BAD_MESSAGE),
    ],
)
def test_bad_messages_are_counted_and_change_nothing(msg: ConsensusMessage, code: ErrorCode) -> None:
    st = NET.replica(1)
    before = record(st)
    st, actions = step(st, Received(msg, 0))
    assert actions == [] and st.stats.rejected == {code: 1}
    assert record(st) == before and not any(s.pp_hash for s in st.log.slots.values())


def test_conflicting_pre_prepare_is_not_prepared() -> None:
    st, _ = step(NET.replica(1), Received(pre_prepare(), 0))
    st, actions = step(st, Received(pre_prepare(block=NET.block(1, nonce=4)), 0))
    assert actions == [] and st.stats.rejected[ErrorCode.CONSENSUS_CONFLICT] == 1


def test_invalid_block_starts_a_view_change_instead_of_preparing() -> None:
    st, actions = step(NET.replica(1), Received(pre_prepare(block=NET.block(1, valid=False)), 0))
    bodies = [m.body for m in sends(actions)]
    assert len(bodies) == 1 and isinstance(bodies[0], ViewChange) and bodies[0].new_view == 1
    assert st.view == 1 and not st.active
    assert st.stats.rejected[ErrorCode.CONSENSUS_INVALID_BLOCK] == 1


def test_prepared_then_committed_with_a_certificate() -> None:
    st, _ = step(NET.replica(1), Received(pre_prepare(), 0))
    st, actions = step(st, Received(NET.msg(2, Prepare(0, 1, D1)), 0))
    commit = [m for m in sends(actions) if isinstance(m.body, Commit)]
    assert len(commit) == 1 and isinstance(actions[0], Persist)
    assert st.log.prepared[1].prepares and len(st.log.prepared[1].prepares) == 2
    st, actions = step(st, Received(NET.msg(0, Commit(0, 1, D1)), 0))
    assert not any(isinstance(a, CommitBlock) for a in actions)  # 2 of 3
    st, actions = step(st, Received(NET.msg(3, Commit(0, 1, D1)), 0))
    done = [a for a in actions if isinstance(a, CommitBlock)]
    assert len(done) == 1 and done[0].block == B1 and len(done[0].certificate.sigs) == 3
    assert st.log.last_committed == 1


def test_restart_never_signs_a_conflicting_value() -> None:
    st, actions = step(NET.replica(1), Received(pre_prepare(), 0))
    rec = next(a.record for a in actions if isinstance(a, Persist))
    again = init_state(NET.genesis, 1, NET.chain_id, sim_key(1), NET.app, persisted=rec)
    other = NET.block(1, nonce=8)
    again, actions = step(again, Received(pre_prepare(block=other), 0))
    assert sends(actions) == [] and again.stats.rejected[ErrorCode.CONSENSUS_CONFLICT] == 1
    again2 = init_state(NET.genesis, 1, NET.chain_id, sim_key(1), NET.app, persisted=rec)
    again2, actions = step(again2, Received(pre_prepare(), 0))  # the same value: re-sent as before
    assert [m.body for m in sends(actions)] == [Prepare(0, 1, D1)]


def test_restart_stays_in_its_view() -> None:
    st, actions = step(NET.replica(2), Received(pre_prepare(block=NET.block(1, valid=False)), 0))
    rec = next(a.record for a in actions if isinstance(a, Persist))
    assert rec.view == 1 and not rec.view_active and rec.view_change is not None
    again = init_state(NET.genesis, 2, NET.chain_id, sim_key(2), NET.app, persisted=rec)
    again, actions = step(again, Start())
    assert [m.body for m in sends(actions)] == [rec.view_change]  # resent verbatim
    again, actions = step(again, Received(pre_prepare(), 0))  # view 0 is over for it
    assert actions == [] and again.stats.rejected[ErrorCode.CONSENSUS_WRONG_VIEW] == 1


def test_bad_record_is_refused() -> None:
    rec = record(NET.replica(1))
    for bad in (replace(rec, chain_id=bytes(32)), replace(rec, validator=2)):
        with pytest.raises(ConsensusError) as e:
            init_state(NET.genesis, 1, NET.chain_id, sim_key(1), NET.app, persisted=bad)
        assert e.value.code == ErrorCode.CONSENSUS_BAD_RECORD
    with pytest.raises(ConsensusError):
        init_state(NET.genesis, 1, NET.chain_id, sim_key(2), NET.app)  # not validator 1's key


def test_f_plus_one_validators_ahead_trigger_a_fetch() -> None:
    st = NET.replica(3)
    d5 = bytes([5]) * 32
    st, actions = step(st, Received(NET.msg(1, Prepare(0, 4, d5)), 0))
    assert not any(isinstance(a, Fetch) for a in actions)  # one could be lying
    st, actions = step(st, Received(NET.msg(2, Prepare(0, 4, d5)), 0))
    fetch = [a for a in actions if isinstance(a, Fetch)]
    assert fetch == [Fetch(1, (1, 2))]


@pytest.fixture(scope="module")
def chain():  # type: ignore[no-untyped-def]
    sim = quiet(4, target=5)
    return [(b, c) for _, b, c in sim.instances[0].chain[:5]]


def test_fetched_blocks_commit_only_with_valid_certificates(chain) -> None:  # type: ignore[no-untyped-def]
    st, actions = step(NET.replica(3), FetchedBlocks(tuple(chain[:3])))
    assert [a.height for a in actions if isinstance(a, CommitBlock)] == [1, 2, 3]
    block, cert = chain[3]
    forged = replace(cert, sigs=cert.sigs[:2] + (VoteSig(cert.sigs[2].validator, bytes(64)),))
    for bad in ((block, forged), (chain[4][0], cert), (block, replace(cert, sigs=cert.sigs[:2]))):
        st, actions = step(st, FetchedBlocks((bad,)))
        assert actions == [] and st.log.last_committed == 3
    assert st.stats.rejected[ErrorCode.CONSENSUS_BAD_CERTIFICATE] == 3
    st, actions = step(st, FetchedBlocks((chain[3],)))
    assert [a.height for a in actions if isinstance(a, CommitBlock)] == [4]


def test_checkpoints_become_stable_and_collect_garbage(chain) -> None:  # type: ignore[no-untyped-def]
    st, _ = step(NET.replica(3), FetchedBlocks(tuple(chain[:2])))
    root = b"R" * 32
    st, _ = step(st, Executed(1, b"x" * 32))
    st, actions = step(st, Executed(2, root))
    cp = Checkpoint(2, chain[1][1].block_hash, root)
    assert [m.body for m in sends(actions)] == [cp]
    st, _ = step(st, Received(NET.msg(0, cp), 0))
    assert st.log.stable is not None and st.log.stable.height == 0
    st, _ = step(st, Received(NET.msg(1, Checkpoint(2, cp.block_hash, b"W" * 32)), 0))  # disagrees
    assert st.log.stable.height == 0
    st, _ = step(st, Received(NET.msg(2, cp), 0))
    assert st.log.stable.height == 2 and st.low == 2 and st.high == 6
    st, actions = step(st, Executed(7, root))  # never committed
    assert actions == [] and st.stats.rejected[ErrorCode.CONSENSUS_BAD_MESSAGE] == 1


def test_messages_round_trip_and_junk_is_rejected(chain) -> None:  # type: ignore[no-untyped-def]
    msg = pre_prepare()
    assert decode_message(encode_message(msg)) == msg
    for junk in (b"", b"\x93\x01\x02", encode_message(msg) + b"\x00", encode_message(msg)[:-3]):
        with pytest.raises(ConsensusError) as e:
            decode_message(junk)
        assert e.value.code == ErrorCode.CONSENSUS_BAD_MESSAGE


def test_messages_for_a_view_not_yet_entered_are_held_and_replayed() -> None:
    from consensus.events import TimerFired
    from consensus.messages import NewView, SignedViewChange

    st = NET.replica(2)
    st, actions = step(st, Start())
    token = next(a.token for a in actions if hasattr(a, "token"))
    st, actions = step(st, TimerFired("view", token))
    assert st.view == 1 and not st.active
    st, actions = step(st, Received(pre_prepare(view=1), 0))  # overtook the NEW-VIEW
    assert actions == [] and not st.stats.rejected
    vcs = tuple(SignedViewChange(i, NET.view_change(1), NET.sign(i, NET.view_change(1))) for i in (0, 1, 3))
    st, actions = step(st, Received(NET.msg(1, NewView(1, vcs, ())), 0))
    assert st.active and Prepare(1, 1, D1) in [m.body for m in sends(actions)]
