"""The public ballot box and the tally agree on which ballot counts (issue 18: one
implementation of "the last ballot counts").

A chain is built with the state machine itself (``harness.localchain``), block by block:
re-votes across blocks, several re-votes of one voter in one block, a spoil, a paper vote
cancelling two voters (one who had re-voted), then a re-vote from a cancelled voter and a
second ballot in an election without re-voting (both refused with their codes). After every
block the ballot box, fed only the committed blocks, must name as counted exactly the
ballot each voter's ``VoterRecord.counted`` names (the running tally's record), and exactly
the ballots the audit's recount (``ballot_tx.replay``, ``last_ballots``) sums.
"""

from __future__ import annotations

import pytest

from ballot_tx.block import Block, tx_hash
from ballot_tx.codec import encode
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.replay import replay
from ballot_tx.state import voting
from ballot_tx.state.records import ciphertext_bytes
from ballot_tx.tx import CancelInternetVote, CastBallot, Tx, decode_tx
from node.ballotbox import CANCELLED, COUNTED, OPENED, REPLACED, BallotBox
from tests.ballot_tx.state.helpers import REGISTRAR
from tests.ballot_tx.state.world import Election, World


def box_over(w: World) -> BallotBox:
    """A ballot box reading the world's committed blocks, as a node's reads its store."""
    blocks = w.chain.blocks
    return BallotBox(lambda h: blocks[h - 1] if 0 < h <= len(blocks) else None)


def code(tx: Tx) -> str:
    return tx_hash(encode(tx)).hex()


def assert_box_agrees_with_tally(w: World, box: BallotBox, e: Election) -> dict[bytes, str]:
    """Bring the box up to the chain's tip and compare it with the state; returns what the
    box counts (voter key -> tracking code)."""
    state = w.chain.state
    box.refresh(state.height)
    assert box.height == state.height
    entries = box.elections.get(e.eid, [])
    box_counted = {x.signer: x.code for x in entries if box.status(x) == COUNTED}
    records = {v.ed25519_public: state.voter(e.eid, v.ed25519_public) for v in e.voters}
    state_counted = {k: r.counted.hex() for k, r in records.items() if r is not None and r.counted}
    assert box_counted == state_counted, "the box counts other ballots than the tally"
    status = state.election(e.eid)
    assert status is not None
    counts = box.counts(e.eid)
    assert counts[COUNTED] == status.voters_voted
    assert counts["ballots"] == status.ballots_cast + status.spoiled
    assert counts[OPENED] == status.spoiled
    last_cast: dict[bytes, str] = {}
    for x in entries:
        if x.kind == "cast":
            last_cast[x.signer] = x.code
    for x in entries:  # every ballot's status follows from the state's record of its voter
        record = records[x.signer]
        assert record is not None
        if x.kind == "spoil":
            want = OPENED
        elif record.counted is not None and record.counted.hex() == x.code:
            want = COUNTED
        elif record.cancelled and last_cast[x.signer] == x.code:
            want = CANCELLED
        else:
            want = REPLACED
        assert box.status(x) == want, (x.height, x.code[:16])
        view = box.lookup(x.code)
        assert view["status"] == want
        if want == REPLACED:
            assert view["replaced_by"] == last_cast[x.signer]
    assert sum(counts[s] for s in (REPLACED, CANCELLED)) == sum(
        1 for x in entries if box.status(x) in (REPLACED, CANCELLED))
    return box_counted


def open_election(voters: int, revoting: bool) -> tuple[World, Election]:
    w = World()
    e = w.open_election(w.manifest(revoting=revoting), voters)
    return w, e


def test_box_and_tally_agree_through_revotes_and_a_paper_vote() -> None:
    w, e = open_election(5, revoting=True)
    v0, v1, v2, v3, v4 = e.voters
    box = box_over(w)
    assert assert_box_agrees_with_tally(w, box, e) == {}

    a, b = w.cast(e, v0), w.cast(e, v1, ((0, 1, 0),))
    w.run(a, b)
    assert assert_box_agrees_with_tally(w, box, e) == {v0.ed25519_public: code(a), v1.ed25519_public: code(b)}

    # v0 re-votes in a later block; v2 votes three times in one block: the last counts
    a2 = w.cast(e, v0, ((0, 0, 1),))
    c1, c2, c3 = (w.cast(e, v2, sel) for sel in (((1, 0, 0),), ((0, 1, 0),), ((0, 0, 1),)))
    height = w.chain.state.height
    w.run(a2, c1, c2, c3)
    assert w.chain.state.height == height + 1, "the four casts went into one block"
    counted = assert_box_agrees_with_tally(w, box, e)
    assert counted[v0.ed25519_public] == code(a2) and counted[v2.ed25519_public] == code(c3)
    assert box.lookup(code(c1))["replaced_by"] == code(c3)
    assert box.lookup(code(c3))["replaces"] == code(c2)

    b2, d = w.cast(e, v1, ((0, 0, 1),)), w.cast(e, v3)
    w.keep(e, "checked", v4)
    w.run(b2, d, w.spoil(e, v4, "checked"))
    assert_box_agrees_with_tally(w, box, e)

    # a paper vote cancels v1 (who had re-voted) and v3: their last ballots leave the tally
    w.run(w.tx(REGISTRAR, CancelInternetVote(e.eid, (v1.ed25519_public, v3.ed25519_public))))
    counted = assert_box_agrees_with_tally(w, box, e)
    assert set(counted) == {v0.ed25519_public, v2.ed25519_public}
    assert [box.lookup(code(t))["status"] for t in (b, b2, d)] == [REPLACED, CANCELLED, CANCELLED]
    assert box.counts(e.eid) == {"ballots": 9, COUNTED: 2, REPLACED: 4, CANCELLED: 2, OPENED: 1}

    # a cancelled voter's re-vote is refused, so the box and the tally stay as they were
    with pytest.raises(TxError) as refused:
        w.run(w.cast(e, v1))
    assert refused.value.code == ErrorCode.TX_VOTE_CANCELLED
    assert assert_box_agrees_with_tally(w, box, e) == counted

    # the audit's recount (every block re-applied, each ballot that stops counting found
    # by LastBallots) counts exactly the ballots the box shows as counted
    r, report = replay(w.genesis, ((blk, None) for blk in w.chain.blocks), None)
    assert [x.election_id for x in report.elections] == [e.eid]
    audited = r.recounts[e.eid].rule.all_counted()
    box_ciphertexts = {k: cast_ciphertexts(w.chain.blocks, c) for k, c in counted.items()}
    assert audited == box_ciphertexts


def cast_ciphertexts(blocks: list[Block], tracking: str) -> bytes:
    for blk in blocks:
        for raw in blk.txs:
            if tx_hash(raw).hex() == tracking:
                body = decode_tx(raw).body
                assert isinstance(body, CastBallot)
                return ciphertext_bytes(body.ballot)
    raise AssertionError(f"no ballot {tracking[:16]} on the chain")


def test_box_and_tally_agree_where_revoting_is_off() -> None:
    w, e = open_election(2, revoting=False)
    first = w.cast(e, e.voters[0])
    w.run(first)
    with pytest.raises(TxError) as refused:
        w.run(w.cast(e, e.voters[0], ((0, 1, 0),)))
    assert refused.value.code == ErrorCode.TX_REVOTE_NOT_ALLOWED
    box = box_over(w)
    assert assert_box_agrees_with_tally(w, box, e) == {e.voters[0].ed25519_public: code(first)}


def test_the_box_asks_the_rule_and_decides_nothing_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the rule changed (here: the *first* ballot counts), the box would follow it: it
    holds no second copy of the rule that could drift from the tally's."""
    w, e = open_election(1, revoting=True)
    voter = e.voters[0]
    first, second = w.cast(e, voter), w.cast(e, voter, ((0, 1, 0),))
    w.run(first)
    w.run(second)
    box = box_over(w)
    assert_box_agrees_with_tally(w, box, e)
    assert [box.lookup(code(t))["status"] for t in (first, second)] == [REPLACED, COUNTED]

    def first_counts(self: voting.LastBallots[str], voter_key: bytes, ballot: str) -> str | None:
        if self.latest(voter_key) is None:
            self._latest[voter_key] = ballot  # noqa: SLF001 - a deliberately wrong rule
        return None

    monkeypatch.setattr(voting.LastBallots, "cast", first_counts)
    mutated = box_over(w)
    mutated.refresh(w.chain.state.height)
    assert [mutated.lookup(code(t))["status"] for t in (first, second)] == [COUNTED, REPLACED]
    with pytest.raises(AssertionError, match="other ballots than the tally"):
        assert_box_agrees_with_tally(w, box_over(w), e)
