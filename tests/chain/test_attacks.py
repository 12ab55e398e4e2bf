"""Attacks from issue 11 on the state machine, each built with the project's own API and
shown refused with its code (the consensus and network halves are in tests/consensus and
tests/node)."""

from __future__ import annotations

import pytest

from ballot_tx.block import Block, make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import encode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import trustees as tr
from ballot_tx.errors import BlockError, ErrorCode, TxError
from ballot_tx.state import State, apply_block, check_tx
from ballot_tx.tx import CastBallot, OpenElection, TrusteeCommit, TrusteeShares, acknowledgement
from tests.chain.helpers import ADMIN, TRUSTEES, VALIDATORS
from tests.chain.world import World


def block_on(st: State, txs: list[bytes]) -> Block:
    return make_block(st.height + 1, st.block_hash, st.time_ms + 1000, VALIDATORS[0].ed25519_public, st.root, txs)


def test_verdict_from_abandoned_proposal_is_not_reused() -> None:
    """Attack 1: a Byzantine primary proposes [open with qualified {1,2} (key K1), a ballot
    valid under K1]; honest replicas execute it (and memoise verdicts), it never commits;
    the election is then opened with {1,2,3} (key K2). The ballot must be checked again,
    under K2, and refused, at admission and inside a block."""
    w = World()
    e = w.create(w.manifest())
    for i in (1, 2, 3):
        e.coeffs[i] = tr.polynomial(e.m, i, TRUSTEES[i - 1])
        e.coms[i] = tr.make_commitment(e.m, i, e.coeffs[i])
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeCommit(e.eid, e.coms[i])) for i in (1, 2, 3)))
    posted = {i: TrusteeShares(e.eid, w.shares(e, i)) for i in (1, 2, 3)}
    w.run(*(w.tx(TRUSTEES[i - 1], posted[i]) for i in (1, 2)))
    w.run(*(w.tx(TRUSTEES[j - 1], acknowledgement(e.eid, j, {i: posted[i] for i in (1, 2)})) for j in (1, 2)))
    w.register(e, 2)
    voter = e.voters[0]
    k1 = tr.joint_key([e.coms[1], e.coms[2]])
    ballot = ballot_crypto.encrypt_ballot(e.m, k1, voter.ed25519_public, ((1, 0, 0),))[0]
    cast = encode(w.tx(voter, CastBallot(e.eid, ballot)))
    open_k1 = encode(w.tx(ADMIN, OpenElection(e.eid)))

    # The hostile proposal is valid, so every honest replica executes it (and its checker
    # learns that the ballot's proofs hold under K1) ...
    st0 = w.chain.state
    hostile = apply_block(st0, block_on(st0, [open_k1, cast]), w.chain.checker)
    status = hostile.election(e.eid)
    assert status is not None and status.joint_key == k1 and status.qualified == (1, 2)
    # ... and it is abandoned: the next primary commits trustee 3's shares and the
    # acknowledgements that involve trustee 3, then the open.
    w.run(w.tx(TRUSTEES[2], posted[3]))
    w.run(*(w.tx(TRUSTEES[j - 1], acknowledgement(e.eid, j, {3: posted[3]})) for j in (1, 2)),
          w.tx(TRUSTEES[2], acknowledgement(e.eid, 3, posted)))
    w.open(e)
    st = w.chain.state
    status = st.election(e.eid)
    assert status is not None and status.qualified == (1, 2, 3) and status.joint_key != k1

    with pytest.raises(TxError) as admitted:
        check_tx(st, cast, st.time_ms + 1, w.chain.checker)
    assert admitted.value.code == ErrorCode.TX_BAD_BALLOT
    with pytest.raises(BlockError) as included:
        apply_block(st, block_on(st, [cast]), w.chain.checker)
    assert included.value.code == ErrorCode.TX_BAD_BALLOT and included.value.tx_index == 0
    # the same ballot made under the key that was committed goes through
    good = ballot_crypto.encrypt_ballot(e.m, e.key, voter.ed25519_public, ((1, 0, 0),))[0]
    check_tx(st, encode(w.tx(voter, CastBallot(e.eid, good))), st.time_ms + 1, w.chain.checker)


def test_memo_checker_keys_every_input() -> None:
    """The memoised verdict of a ballot is tied to the joint key it was checked under."""
    w = World()
    e = w.create(w.manifest())
    w.ceremony(e)
    w.register(e, 1)
    w.open(e)
    memo = MemoChecker()
    voter = e.voters[0]
    tx = w.cast(e, voter)
    assert isinstance(tx.body, CastBallot)
    memo.ballot(b"h" * 32, e.m, e.key, voter.ed25519_public, tx.body.ballot)
    assert len(memo) == 1
    other = tr.joint_key([e.coms[1], e.coms[2]])
    with pytest.raises(Exception) as refused:
        memo.ballot(b"h" * 32, e.m, other, voter.ed25519_public, tx.body.ballot)
    assert getattr(refused.value, "code", None) is not None
    assert len(memo) == 1  # a failure is never remembered
