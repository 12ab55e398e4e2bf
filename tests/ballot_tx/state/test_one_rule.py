"""The rules that readers of the chain re-derive have one statement each in ballot_tx/state,
and those statements agree with what the state machine does (issue 18):

* the last ballot counts: ``voting.last_ballots`` over the committed casts, in chain
  order, names exactly the ballot each voter's ``VoterRecord.counted`` names, with a
  re-vote replacing the first ballot and a paper vote cancelling the internet one;
* the auto-close rule: ``election.due_to_close`` names exactly the elections the next
  block closes, and none a millisecond earlier.
"""

from __future__ import annotations

from ballot_tx.block import make_block, tx_hash
from ballot_tx.codec import encode
from ballot_tx.state.election import due_to_close
from ballot_tx.state.execute import apply_block
from ballot_tx.state.records import Phase
from ballot_tx.state.voting import last_ballots
from ballot_tx.tx import CancelInternetVote
from tests.ballot_tx.state.helpers import REGISTRAR, VALIDATORS
from tests.ballot_tx.state.world import World


def test_last_ballots_names_what_the_state_counts() -> None:
    w = World()
    e = w.open_election(w.manifest(revoting=True), 3)
    v0, v1, v2 = e.voters
    casts = [w.cast(e, v0), w.cast(e, v1, ((0, 1, 0),)), w.cast(e, v0, ((0, 0, 1),)), w.cast(e, v2)]
    for tx in casts:  # one block each: chain order is the order above
        w.run(tx)
    chain_order = [(tx.signer, tx_hash(encode(tx))) for tx in casts]
    counted = {v.ed25519_public: w.chain.state.voter(e.eid, v.ed25519_public) for v in e.voters}
    assert last_ballots(chain_order) == {k: r.counted for k, r in counted.items() if r is not None}
    assert last_ballots(chain_order)[v0.ed25519_public] == chain_order[2][1]  # the re-vote

    w.run(w.tx(REGISTRAR, CancelInternetVote(e.eid, (v1.ed25519_public,))))
    after = w.chain.state.voter(e.eid, v1.ed25519_public)
    assert after is not None and after.cancelled and after.counted is None
    assert last_ballots(chain_order, {v1.ed25519_public}) == {
        v0.ed25519_public: chain_order[2][1], v2.ed25519_public: chain_order[3][1]}


def test_due_to_close_names_what_the_next_block_closes() -> None:
    w = World()
    ending = w.create(w.manifest(hours=2))
    later = w.create(w.manifest(hours=5))
    for e in (ending, later):
        w.ceremony(e)
        w.register(e, 1)
        w.open(e)
    state = w.chain.state
    assert set(state.open_elections()) == {ending.eid, later.eid}
    end = ending.m.end_ms
    assert due_to_close(state.open_elections(), state.manifest, end - 1) == []
    assert due_to_close(state.open_elections(), state.manifest, end) == [ending.eid]

    proposer = w.genesis.validators[0].ed25519_public
    for time_ms, closed in ((end - 1, False), (end, True)):
        block = make_block(state.height + 1, state.block_hash, time_ms, proposer, state.root, [])
        after = apply_block(state, block)  # an empty block: only the auto-close rule acts
        status = after.election(ending.eid)
        assert status is not None
        assert (status.phase == Phase.CLOSED) is closed
        assert status.closed_ms == (time_ms if closed else None)
        assert (ending.eid in after.open_elections()) is not closed
        assert later.eid in after.open_elections()


def test_a_dropped_transaction_leaves_the_running_tally_as_it_was() -> None:
    """A block's tallies are held decoded while it executes (``ExecutionContext.count_ballot``);
    a proposer dropping a transaction that uncounted a ballot and then failed must put the
    ballot back. Here a cancellation takes v0's ballot (the only one counted) out, then fails
    on an unknown key; the next cancellation of v0 must still find that ballot to take out,
    and the block built from what was kept counts what the chain counts one ballot at a time."""
    from ballot_tx.crypto import tally as tally_crypto
    from ballot_tx.errors import ErrorCode
    from ballot_tx.keys import KeyPair
    from ballot_tx.state.execute import select_txs
    from ballot_tx.tx import CastBallot

    w = World()
    e = w.open_election(w.manifest(revoting=True), 3)
    v0, v1, _ = e.voters
    w.run(w.cast(e, v0))
    state = w.chain.state
    stranger = KeyPair.generate().ed25519_public
    failing = w.tx(REGISTRAR, CancelInternetVote(e.eid, (v0.ed25519_public, stranger)))
    cancel = w.tx(REGISTRAR, CancelInternetVote(e.eid, (v0.ed25519_public,)))
    vote = w.tx(v1, CastBallot(e.eid, w.ballot(e, v1, ((0, 1, 0),))))
    t = state.time_ms + 1000
    kept, rejected = select_txs(state, [encode(failing), encode(cancel), encode(vote)], t)
    assert kept == [encode(cancel), encode(vote)]
    assert [(i, err.code) for i, err in rejected] == [(0, ErrorCode.TX_NOT_ELIGIBLE)]
    new = apply_block(state, make_block(height=state.height + 1, prev_hash=state.block_hash, time_ms=t,
                                        proposer=VALIDATORS[0].ed25519_public, state_root=state.root, txs=kept))
    before = state.tally(e.eid)
    assert before is not None and before.ballots == 1
    assert isinstance(vote.body, CastBallot)
    assert new.tally(e.eid) == tally_crypto.aggregate(w.chain.state.manifest(e.eid), [vote.body.ballot])
