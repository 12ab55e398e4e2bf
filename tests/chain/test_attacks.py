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
from ballot_tx.tx import CastBallot, OpenElection, TrusteeCommit, TrusteeShares
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
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeShares(e.eid, w.shares(e, i))) for i in (1, 2)))
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
    # ... and it is abandoned: the next primary commits trustee 3's shares, then the open.
    w.run(w.tx(TRUSTEES[2], TrusteeShares(e.eid, w.shares(e, 3))))
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


def test_blocks_are_capped_in_bytes() -> None:
    """Attack 3: transactions big enough to make an 8 MiB proposal. The proposer's
    selection keeps a block within genesis max_block_bytes (the rest waits for the next
    block), and a block over it is refused with BLOCK_TOO_LARGE."""
    import dataclasses

    from ballot_tx.codec import hash_bytes
    from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
    from ballot_tx.keys import KeyPair
    from ballot_tx.state import block_bytes, select_txs
    from genesis.document import validate
    from tests.chain.helpers import REGISTRAR

    w = World()
    small = dataclasses.replace(w.genesis, params=dataclasses.replace(w.genesis.params, max_block_bytes=1 << 18))
    validate(small)
    w.genesis = small
    w.chain = type(w.chain)(small, VALIDATORS)
    w.cid = w.chain.chain_id
    e = w.create(w.manifest())
    big = []
    for b in range(6):  # six registrations of ~70 KB each: ~420 KB of transactions
        entries = tuple(
            KeyEntry(
                KeyPair.from_seed(hash_bytes("bulk", bytes([b, i % 256, i // 256]))).ed25519_public,
                hash_bytes("tag", bytes([b, i % 256, i // 256])),
            )
            for i in range(1000)
        )
        big.append(encode(w.tx(REGISTRAR, RegisterKeys(e.eid, entries))))
    assert block_bytes(big) > small.params.max_block_bytes
    st = w.chain.state
    kept, rejected = select_txs(st, big, st.time_ms + 1000, w.chain.checker)
    assert not rejected and 0 < len(kept) < len(big)
    assert block_bytes(kept) <= small.params.max_block_bytes
    apply_block(st, block_on(st, kept), w.chain.checker)  # what the proposer builds is valid
    with pytest.raises(BlockError) as too_big:
        apply_block(st, block_on(st, big), w.chain.checker)
    assert too_big.value.code == ErrorCode.BLOCK_TOO_LARGE
