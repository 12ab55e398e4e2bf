"""Attacks from issue 11 on the state machine, each built with the project's own API and
shown refused with its code (the consensus and network halves are in tests/consensus and
tests/node)."""

from __future__ import annotations

import dataclasses

import pytest

from ballot_tx.block import Block, make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import encode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.elgamal import sum_ciphertexts
from ballot_tx.crypto.group import IDENTITY, L
from ballot_tx.crypto.proofs import prove_range
from ballot_tx.errors import BallotchainError, BlockError, ErrorCode, TxError
from ballot_tx.keys import KeyPair
from ballot_tx.state.execute import apply_block, check_tx, select_txs
from ballot_tx.state.records import ciphertexts_digest
from ballot_tx.state.snapshot import State
from ballot_tx.tx import (
    CastBallot,
    OpenElection,
    ShareAck,
    SpoilBallot,
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    acknowledgement,
    shares_digest,
)
from tests.ballot_tx.state.helpers import ADMIN, TRUSTEES, VALIDATORS
from tests.ballot_tx.state.world import Election, World


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
    e = w.open_election(w.manifest(), 1)
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
    from ballot_tx.state.execute import block_bytes, select_txs
    from genesis.document import validate
    from tests.ballot_tx.state.helpers import REGISTRAR

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

# --- attack 5: a dealer that cheats last must not end up qualified -------------------------


def _open_refused(w: World, body: OpenElection, code: ErrorCode) -> None:
    """``body`` is refused with ``code`` at admission and inside a block."""
    st = w.chain.state
    raw = encode(w.tx(ADMIN, body))
    with pytest.raises(TxError) as admitted:
        check_tx(st, raw, st.time_ms + 1)
    assert admitted.value.code == code, admitted.value.message
    with pytest.raises(BlockError) as included:
        apply_block(st, block_on(st, [raw]))
    assert included.value.code == code and included.value.tx_index == 0


def _bad_dealer_last(w: World) -> Election:
    """Trustees 1 and 2 deal and acknowledge each other; then trustee 3 posts shares whose
    share for trustee 1 does not match its commitment (a valid box, a wrong value),
    and acknowledges everyone; trustee 2 acknowledges 3. Trustee 1 has not answered."""
    e = w.create(w.manifest())
    for i in (1, 2, 3):
        e.coeffs[i] = tr.polynomial(e.m, i, TRUSTEES[i - 1])
        e.coms[i] = tr.make_commitment(e.m, i, e.coeffs[i])
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeCommit(e.eid, e.coms[i])) for i in (1, 2, 3)))
    e.posted = {i: TrusteeShares(e.eid, w.shares(e, i)) for i in (1, 2)}
    w.run(*(w.tx(TRUSTEES[i - 1], e.posted[i]) for i in (1, 2)))
    w.run(w.ack(e, 1, (2,)), w.ack(e, 2, (1,)))
    lie = tr.make_shares(e.m, 3, TRUSTEES[2], (e.coeffs[3][0] + 1, *e.coeffs[3][1:]), e.coms[3])
    good = w.shares(e, 3)
    e.posted[3] = TrusteeShares(e.eid, (lie[0], good[1]))  # bad for trustee 1, good for 2
    w.run(w.tx(TRUSTEES[2], e.posted[3]))
    w.run(w.ack(e, 2, (3,)), w.ack(e, 3))
    return e


def test_dealer_posting_bad_shares_last_cannot_open_while_the_victim_has_not_answered() -> None:
    w = World()
    e = _bad_dealer_last(w)
    with pytest.raises(BallotchainError) as victim_sees:  # what `trustee ceremony` finds
        tr.open_share(e.m, TRUSTEES[0], e.coms[3], e.posted[3].shares[0])
    assert victim_sees.value.code == ErrorCode.CRYPTO_BAD_SHARE
    _open_refused(w, OpenElection(e.eid), ErrorCode.TX_CEREMONY_UNACKNOWLEDGED)
    # the victim cannot be made to vouch for shares it did not see
    wrong = ShareAck(3, shares_digest(TrusteeShares(e.eid, good_shares := w.shares(e, 3))))
    assert good_shares != e.posted[3].shares
    with pytest.raises(TxError) as forged:
        check_tx(w.chain.state, w.tx(TRUSTEES[0], TrusteeAcknowledge(e.eid, (wrong,))), w.chain.next_time())
    assert forged.value.code == ErrorCode.TX_BAD_ACKNOWLEDGEMENT
    # the complaint stays possible until the open (it was TX_WRONG_PHASE once opened)
    w.run(w.tx(TRUSTEES[0], TrusteeComplaint(e.eid, tr.make_complaint(e.m, 3, 1))))
    st0 = w.chain.state
    # path 1: the dealer does not answer -> it is disqualified, the rest open
    w.open(e)
    status = w.chain.state.election(e.eid)
    assert status is not None and status.qualified == (1, 2)
    assert status.joint_key == tr.joint_key([e.coms[1], e.coms[2]])

    # path 2 (from the same state): the dealer reveals the victim's share, which matches its
    # commitment; every pair is then settled, all three qualify, and the victim's combined
    # share matches its verification key
    w2 = World()
    e2 = _bad_dealer_last(w2)
    w2.run(w2.tx(TRUSTEES[0], TrusteeComplaint(e2.eid, tr.make_complaint(e2.m, 3, 1))))
    assert w2.chain.state.root == st0.root
    reveal = tr.make_reveal(e2.m, 3, e2.coeffs[3], 1)
    w2.run(w2.tx(TRUSTEES[2], TrusteeReveal(e2.eid, reveal)))
    w2.open(e2)
    status = w2.chain.state.election(e2.eid)
    assert status is not None and status.qualified == (1, 2, 3)
    coms = [e2.coms[i] for i in (1, 2, 3)]
    received = {2: tr.evaluate(e2.coeffs[2], 1), 3: tr.verify_reveal(e2.m, e2.coms[3], reveal)}
    x1 = tr.combined_share(e2.m, 1, e2.coeffs[1], received, coms)
    assert x1 == sum(tr.evaluate(e2.coeffs[i], 1) for i in (1, 2, 3)) % L


def test_a_trustee_that_acknowledged_cannot_complain_afterwards() -> None:
    w = World()
    e = _bad_dealer_last(w)
    # trustee 2 vouched for 3's shares: it cannot complain about them afterwards
    with pytest.raises(TxError) as late:
        check_tx(w.chain.state, w.tx(TRUSTEES[1], TrusteeComplaint(e.eid, tr.make_complaint(e.m, 3, 2))),
                 w.chain.next_time())
    assert late.value.code == ErrorCode.TX_BAD_COMPLAINT


def test_a_silent_trustee_stalls_the_open_until_the_admin_excludes_it() -> None:
    """Trustee 3 posts its shares and never acknowledges: no open may include it, and
    the admin's explicit, on-chain exclusion lets the other two go ahead."""
    w = World()
    e = w.create(w.manifest())
    w.ceremony(e, withhold=((1, 3), (2, 3)))
    _open_refused(w, OpenElection(e.eid), ErrorCode.TX_CEREMONY_UNACKNOWLEDGED)
    w.run(w.tx(ADMIN, OpenElection(e.eid, (3,))))
    status = w.chain.state.election(e.eid)
    assert status is not None and status.qualified == (1, 2)
    assert status.joint_key == tr.joint_key([e.coms[1], e.coms[2]])


def test_open_refused_with_the_identity_as_joint_key() -> None:
    w = World()
    e = w.create(w.manifest())
    e.coeffs[1] = tr.polynomial(e.m, 1, TRUSTEES[0])
    e.coeffs[2] = ((-e.coeffs[1][0]) % L, 5)  # colluding: the constant terms cancel
    for i in (1, 2):
        e.coms[i] = tr.make_commitment(e.m, i, e.coeffs[i])
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeCommit(e.eid, e.coms[i])) for i in (1, 2)))
    e.posted = {i: TrusteeShares(e.eid, w.shares(e, i)) for i in (1, 2)}
    w.run(*(w.tx(TRUSTEES[i - 1], e.posted[i]) for i in (1, 2)))
    w.run(w.ack(e, 1), w.ack(e, 2))
    assert tr.joint_key([e.coms[1], e.coms[2]]) == IDENTITY
    _open_refused(w, OpenElection(e.eid), ErrorCode.TX_JOINT_KEY_IDENTITY)
    _open_refused(w, OpenElection(e.eid, (1, 2)), ErrorCode.TX_CEREMONY_INCOMPLETE)  # nobody left


# --- attack 6: spoiling and casting kept apart ------------------------------------------------


def _reprove(e: Election, credential: KeyPair, b: ballot_crypto.EncryptedBallot,
             secrets: ballot_crypto.BallotSecrets, seed: bytes) -> ballot_crypto.EncryptedBallot:
    """What anyone can do once a ballot is spoiled (its randomness is public): prove the
    same ciphertexts again, for any voter key, with fresh proofs."""
    bare = tuple(dataclasses.replace(c, bit_proofs=(), sum_proofs=()) for c in b.contests)
    ctx = ballot_crypto.ballot_context(e.eid, e.key, credential.ed25519_public, bare)
    out = []
    for c, ec, sel, ns in zip(e.m.contests, b.contests, secrets.selections, secrets.nonces, strict=True):
        p = ballot_crypto.plaintexts(c, sel)
        rs = [int.from_bytes(n, "little") for n in ns]
        bits = tuple(prove_range(ct, e.key, v, r, 0, 1, ctx, seed) for ct, v, r in zip(ec.ciphertexts, p, rs, strict=True))
        sums = tuple(
            prove_range(sum_ciphertexts(ec.ciphertexts[s : s + n]), e.key, sum(p[s : s + n]), sum(rs[s : s + n]), lo, hi, ctx, seed)
            for s, n, lo, hi in ballot_crypto.sum_ranges(c)
        )
        out.append(dataclasses.replace(ec, bit_proofs=bits, sum_proofs=sums))
    return dataclasses.replace(b, contests=tuple(out))


def _top_bit(b: ballot_crypto.EncryptedBallot) -> ballot_crypto.EncryptedBallot:
    """The same ballot with bit 255 of its first alpha set (libsodium 1.0.18 reads the same point)."""
    c0 = b.contests[0]
    ct = c0.ciphertexts[0]
    alpha = ct.alpha[:31] + bytes([ct.alpha[31] | 0x80])
    cts = (dataclasses.replace(ct, alpha=alpha), *c0.ciphertexts[1:])
    return dataclasses.replace(b, contests=(dataclasses.replace(c0, ciphertexts=cts), *b.contests[1:]))


def _refused(w: World, tx: Tx, code: ErrorCode) -> None:
    st = w.chain.state
    with pytest.raises(TxError) as admitted:
        check_tx(st, tx, w.chain.next_time())
    assert admitted.value.code == code, admitted.value.message
    with pytest.raises(BlockError) as included:
        apply_block(st, block_on(st, [encode(tx)]))
    assert included.value.code == code and included.value.tx_index == 0


def test_a_spoiled_ballot_is_never_cast() -> None:
    w = World()
    e = w.open_election(w.manifest(revoting=True), 2)
    v0, v1 = e.voters
    b, secrets = w.keep(e, "x", v0, ((0, 1, 0),))
    w.run(w.spoil(e, v0, "x"))
    # as spoiled, by its own voter
    _refused(w, w.cast_kept(e, v0, "x"), ErrorCode.TX_BALLOT_SPOILED)
    # the same ciphertexts with fresh proofs (the randomness is public now) ...
    again = _reprove(e, v0, b, secrets, b"\x07" * 32)
    assert again != b and again.contests[0].ciphertexts == b.contests[0].ciphertexts
    ballot_crypto.verify_ballot(e.m, e.key, v0.ed25519_public, again)  # a valid ballot ...
    _refused(w, w.tx(v0, CastBallot(e.eid, again)), ErrorCode.TX_BALLOT_SPOILED)  # ... refused
    # ... proved for another voter's key ...
    theirs = _reprove(e, v1, b, secrets, b"\x08" * 32)
    ballot_crypto.verify_ballot(e.m, e.key, v1.ed25519_public, theirs)
    _refused(w, w.tx(v1, CastBallot(e.eid, theirs)), ErrorCode.TX_BALLOT_SPOILED)
    # ... or spelled with a second encoding of one of its points
    respelled = _top_bit(b)
    assert ciphertexts_digest(respelled) == ciphertexts_digest(b)
    _refused(w, w.tx(v0, CastBallot(e.eid, respelled)), ErrorCode.TX_BALLOT_SPOILED)
    # spoil and cast of one ballot in one block: the block is invalid, the proposer drops the cast
    y = w.keep(e, "y", v1)
    spoil_y, cast_y = encode(w.spoil(e, v1, "y")), encode(w.cast_kept(e, v1, "y"))
    st = w.chain.state
    with pytest.raises(BlockError) as both:
        apply_block(st, block_on(st, [spoil_y, cast_y]))
    assert both.value.code == ErrorCode.TX_BALLOT_SPOILED and both.value.tx_index == 1
    kept, rejected = select_txs(st, [spoil_y, cast_y], st.time_ms + 1000)
    assert kept == [spoil_y] and [(i, err.code) for i, err in rejected] == [(1, ErrorCode.TX_BALLOT_SPOILED)]
    assert y[0] != b
    # an honest ballot still counts
    w.run(w.cast(e, v1))
    voter = w.chain.state.voter(e.eid, v1.ed25519_public)
    assert voter is not None and voter.ballots == 1


def test_the_counted_ballot_is_never_spoiled() -> None:
    w = World()
    e = w.open_election(w.manifest(revoting=True), 1)
    (v,) = e.voters
    w.keep(e, "x", v, ((0, 0, 1),))
    w.run(w.cast_kept(e, v, "x"))
    _refused(w, w.spoil(e, v, "x"), ErrorCode.TX_SPOIL_COUNTED)
    b, secrets = e.kept["x"]
    _refused(w, w.tx(v, SpoilBallot(e.eid, _top_bit(b), secrets)), ErrorCode.TX_SPOIL_COUNTED)
    # after a re-vote, the old ballot no longer counts: opening it is an ordinary audit,
    # after which it can never be cast back; the new counted ballot cannot be opened
    w.keep(e, "y", v, ((1, 0, 0),))
    w.run(w.cast_kept(e, v, "y"))
    w.run(w.spoil(e, v, "x"))
    _refused(w, w.cast_kept(e, v, "x"), ErrorCode.TX_BALLOT_SPOILED)
    _refused(w, w.spoil(e, v, "y"), ErrorCode.TX_SPOIL_COUNTED)
    voter = w.chain.state.voter(e.eid, v.ed25519_public)
    assert voter is not None and voter.ballots == 2 and voter.spoils == 1
    # cast then spoil of one ballot in one block
    w.keep(e, "z", v, ((0, 1, 0),))
    st = w.chain.state
    with pytest.raises(BlockError) as both:
        apply_block(st, block_on(st, [encode(w.cast_kept(e, v, "z")), encode(w.spoil(e, v, "z"))]))
    assert both.value.code == ErrorCode.TX_SPOIL_COUNTED and both.value.tx_index == 1


def test_the_counted_ballot_is_never_spoiled_without_revoting() -> None:
    """Without re-voting no ``B`` record keeps the ballot: the voter record's digest does."""
    w = World()
    e = w.open_election(w.manifest(revoting=False), 1)
    (v,) = e.voters
    w.keep(e, "x", v)
    w.run(w.cast_kept(e, v, "x"))
    _refused(w, w.spoil(e, v, "x"), ErrorCode.TX_SPOIL_COUNTED)


def test_per_voter_limits_default_and_refuse() -> None:
    w = World()
    m = w.manifest(revoting=True)
    assert (m.max_spoils_per_voter, m.max_ballots_per_voter) == (10, 20)
    e = w.open_election(dataclasses.replace(m, max_spoils_per_voter=2, max_ballots_per_voter=3), 1)
    (v,) = e.voters
    for k in range(2):
        w.keep(e, f"s{k}", v)
        w.run(w.spoil(e, v, f"s{k}"))
    w.keep(e, "s2", v)
    _refused(w, w.spoil(e, v, "s2"), ErrorCode.TX_TOO_MANY_SPOILS)
    for _ in range(3):
        w.run(w.cast(e, v))
    _refused(w, w.cast(e, v), ErrorCode.TX_TOO_MANY_BALLOTS)
    status = w.chain.state.election(e.eid)
    assert status is not None and status.spoiled == 2 and status.ballots_cast == 3
