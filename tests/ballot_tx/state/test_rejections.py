"""Every kind of invalid transaction is rejected with its stable code, alone and inside a block.

Each case is checked twice: by ``check_tx`` (what the mempool runs) and by
``apply_block`` on a block where it follows a valid transaction, which must
make the whole block invalid and name the transaction's index.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest

from ballot_tx.block import make_block
from ballot_tx.codec import encode, hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as tr
from ballot_tx.eligibility.one_time_code import CommitCodes
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import BlockError, ErrorCode, TxError
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import election_id
from ballot_tx.state.execute import apply_block, check_tx
from ballot_tx.state.snapshot import State
from ballot_tx.tx import (
    MAX_TX_LIFETIME_MS,
    CancelInternetVote,
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    ShareAck,
    SpoilBallot,
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    acknowledgement,
    sign_tx,
)
from tests.ballot_tx.crypto.helpers import forge_top_bit_ballot, forge_top_bit_commitment
from tests.ballot_tx.state.helpers import ADMIN, REGISTRAR, TRUSTEES, VALIDATORS, kp
from tests.ballot_tx.state.world import HOUR, Election, World, build_world

Case = Callable[[World, dict[str, Election]], Tx | bytes]
_fresh = itertools.count()


@pytest.fixture(scope="module")
def world() -> tuple[World, dict[str, Election]]:
    return build_world()


def filler(w: World, es: dict[str, Election]) -> bytes:
    """A valid transaction (a fresh voter registration) to put before the bad one."""
    i = next(_fresh)
    v = kp("filler", i % 256)
    tag = hash_bytes("filler-tag", i.to_bytes(4, "big"))
    return encode(w.tx(REGISTRAR, RegisterKeys(es["open"].eid, (KeyEntry(v.ed25519_public, tag),))))


def assert_rejected(w: World, es: dict[str, Election], bad: Tx | bytes, code: ErrorCode, dt: int = 0) -> None:
    st: State = w.chain.state
    t = w.chain.next_time() + dt
    raw = bad if isinstance(bad, bytes) else encode(bad)
    with pytest.raises(TxError) as e:
        check_tx(st, raw, t)
    assert e.value.code == code, e.value.message
    good = filler(w, es)
    check_tx(st, good, t)
    proposer = VALIDATORS[0].ed25519_public
    block = make_block(st.height + 1, st.block_hash, t, proposer, st.root, [good, raw])
    with pytest.raises(BlockError) as b:
        apply_block(st, block)
    assert b.value.code == code and b.value.tx_index == 1


def flip(b: bytes, i: int = -1) -> bytes:
    x = bytearray(b)
    x[i] ^= 1
    return bytes(x)


def other_chain_tx(w: World, es: dict[str, Election]) -> Tx:
    return sign_tx(ADMIN, b"\x01" * 32, CloseElection(es["open"].eid), w.chain.next_time() + HOUR)


def bad_commitment(w: World, es: dict[str, Election]) -> Tx:
    e = es["ceremony"]
    c = tr.make_commitment(e.m, 2, tr.polynomial(e.m, 2, TRUSTEES[1]))
    bad = dataclasses.replace(c, commitments=(c.commitments[1], c.commitments[0]))
    return w.tx(TRUSTEES[1], TrusteeCommit(e.eid, bad))


def commitment_for(w: World, es: dict[str, Election], name: str, signer: int, index: int) -> Tx:
    e = es[name]
    c = tr.make_commitment(e.m, index, tr.polynomial(e.m, index, TRUSTEES[index - 1]))
    return w.tx(TRUSTEES[signer - 1], TrusteeCommit(e.eid, c))


def copied_ballot(w: World, es: dict[str, Election]) -> Tx:
    e = es["open"]
    b = w.ballot(e, e.voters[0])
    return w.tx(e.voters[1], CastBallot(e.eid, b))  # voter 1 re-posts voter 0's ballot


def mutated_ballot(w: World, es: dict[str, Election]) -> Tx:
    e = es["open"]
    b = w.ballot(e, e.voters[0])
    c0 = b.contests[0]
    cts = (c0.ciphertexts[1], c0.ciphertexts[0], *c0.ciphertexts[2:])
    b = dataclasses.replace(b, contests=(dataclasses.replace(c0, ciphertexts=cts),))
    return w.tx(e.voters[0], CastBallot(e.eid, b))


def second_encoding_ballot(w: World, es: dict[str, Election]) -> Tx:
    """Voter 0's own ballot with an alpha's bit 255 set and its proofs re-made over
    those bytes: libsodium 1.0.18 decodes it to the same point (issue 11 item 4)."""
    e = es["open"]
    v = e.voters[0]
    return w.tx(v, CastBallot(e.eid, forge_top_bit_ballot(e.m, e.key, v.ed25519_public, ((1, 0, 0),))))


def second_encoding_commitment(w: World, es: dict[str, Election]) -> Tx:
    e = es["ceremony"]
    c = forge_top_bit_commitment(e.m, 2, tr.polynomial(e.m, 2, TRUSTEES[1]))
    return w.tx(TRUSTEES[1], TrusteeCommit(e.eid, c))


def bad_spoil(w: World, es: dict[str, Election]) -> Tx:
    e = es["open"]
    b, secrets = ballot_crypto.encrypt_ballot(e.m, e.key, e.voters[0].ed25519_public, ((1, 0, 0),))
    lie = dataclasses.replace(secrets, selections=((0, 1, 0),))
    return w.tx(e.voters[0], SpoilBallot(e.eid, b, lie))


def share_tx(w: World, es: dict[str, Election], signer: int, j: int, tamper: bool = False) -> Tx:
    e = es["closed"]
    s = w.dshare(e, j)
    if tamper:
        row = s.shares[0]
        s = dataclasses.replace(s, shares=((row[1], row[0], *row[2:]), *s.shares[1:]))
    return w.tx(TRUSTEES[signer - 1], PostDecryptionShare(e.eid, s))


def wrong_result(w: World, es: dict[str, Election]) -> Tx:
    e = es["closed"]
    tally = w.chain.state.tally(e.eid)
    assert tally is not None
    shares = [w.dshare(e, 1), w.dshare(e, 2)]
    r = decryption.decrypt_tally(e.m, [e.coms[i] for i in sorted(e.coms)], tally, shares)
    bad = dataclasses.replace(r, counts=((r.counts[0][1], r.counts[0][0], r.counts[0][2]),))
    return w.tx(ADMIN, PublishResult(e.eid, bad))


def result_without_shares(w: World, es: dict[str, Election]) -> Tx:
    e = es["closed"]
    tally = w.chain.state.tally(e.eid)
    assert tally is not None
    shares = [w.dshare(e, 1), w.dshare(e, 2)]
    r = decryption.decrypt_tally(e.m, [e.coms[i] for i in sorted(e.coms)], tally, shares)
    return w.tx(ADMIN, PublishResult(e.eid, r))  # trustee 2's share was never posted


def shares_out_of_order(w: World, es: dict[str, Election]) -> Tx:
    e = es["ceremony"]
    m = e.m
    coeffs = tr.polynomial(m, 1, TRUSTEES[0])
    c = tr.make_commitment(m, 1, coeffs)
    shares = tr.make_shares(m, 1, TRUSTEES[0], coeffs, c)
    return w.tx(TRUSTEES[0], TrusteeShares(e.eid, tuple(reversed(shares))))


def paper_voter(w: World, es: dict[str, Election]) -> KeyPair:
    """A fresh voter of the re-voting election who voted online, then on paper."""
    e, i = es["open"], next(_fresh)
    v = kp("paper", i % 256)
    w.run(w.tx(REGISTRAR, RegisterKeys(e.eid, (KeyEntry(v.ed25519_public, hash_bytes("paper-tag", i.to_bytes(4, "big"))),))))
    w.run(w.cast(e, v))
    w.run(w.tx(REGISTRAR, CancelInternetVote(e.eid, (v.ed25519_public,))))
    return v


def cancel(w: World, es: dict[str, Election], name: str, *keys: bytes, signer: KeyPair = REGISTRAR) -> Tx:
    return w.tx(signer, CancelInternetVote(es[name].eid, keys))


CASES: dict[str, tuple[Case, ErrorCode]] = {
    # envelope
    "garbage bytes": (lambda w, es: b"\x93\x01\x02", ErrorCode.TX_MALFORMED),
    "trailing byte": (lambda w, es: encode(w.tx(ADMIN, CloseElection(es["open"].eid))) + b"\0", ErrorCode.TX_MALFORMED),
    "flipped signature": (
        lambda w, es: dataclasses.replace(
            t := w.tx(ADMIN, CloseElection(es["open"].eid)), signature=flip(t.signature)
        ),
        ErrorCode.TX_BAD_SIGNATURE,
    ),
    "signed for another chain": (other_chain_tx, ErrorCode.TX_BAD_SIGNATURE),
    "signer swapped": (
        lambda w, es: dataclasses.replace(
            w.tx(ADMIN, CloseElection(es["open"].eid)), signer=REGISTRAR.ed25519_public
        ),
        ErrorCode.TX_BAD_SIGNATURE,
    ),
    "expired": (
        lambda w, es: w.tx(ADMIN, CloseElection(es["open"].eid), expires=w.chain.next_time() - 1),
        ErrorCode.TX_EXPIRED,
    ),
    "expiry too far": (
        lambda w, es: w.tx(
            ADMIN, CloseElection(es["open"].eid), expires=w.chain.next_time() + MAX_TX_LIFETIME_MS + 1
        ),
        ErrorCode.TX_EXPIRY_TOO_FAR,
    ),
    "replayed transaction": (lambda w, es: w.chain.blocks[-1].txs[0], ErrorCode.TX_DUPLICATE),
    # authority
    "create by registrar": (lambda w, es: w.tx(REGISTRAR, CreateElection(w.manifest())), ErrorCode.TX_UNAUTHORIZED),
    "open by a voter": (
        lambda w, es: w.tx(es["open"].voters[0], OpenElection(es["ceremony"].eid)),
        ErrorCode.TX_UNAUTHORIZED,
    ),
    "close by a trustee": (lambda w, es: w.tx(TRUSTEES[0], CloseElection(es["open"].eid)), ErrorCode.TX_UNAUTHORIZED),
    "register by admin": (
        lambda w, es: w.tx(ADMIN, RegisterKeys(es["open"].eid, (KeyEntry(kp("x").ed25519_public, b"t" * 32),))),
        ErrorCode.TX_UNAUTHORIZED,
    ),
    "result by a voter": (
        lambda w, es: w.tx(es["open"].voters[0], wrong_result(w, es).body),
        ErrorCode.TX_NOT_TRUSTEE,
    ),
    # elections
    "unknown election": (lambda w, es: w.tx(ADMIN, OpenElection(b"\x42" * 32)), ErrorCode.TX_UNKNOWN_ELECTION),
    "election exists": (lambda w, es: w.tx(ADMIN, CreateElection(es["open"].m)), ErrorCode.TX_ELECTION_EXISTS),
    "invalid manifest": (
        lambda w, es: w.tx(ADMIN, CreateElection(dataclasses.replace(w.manifest(), threshold=0))),
        ErrorCode.TX_BAD_MANIFEST,
    ),
    "window already over": (
        lambda w, es: w.tx(
            ADMIN,
            CreateElection(dataclasses.replace(w.manifest(), start_ms=1, end_ms=w.chain.next_time() - 5)),
        ),
        ErrorCode.TX_BAD_MANIFEST,
    ),
    "open twice": (lambda w, es: w.tx(ADMIN, OpenElection(es["open"].eid)), ErrorCode.TX_WRONG_PHASE),
    "close twice": (lambda w, es: w.tx(ADMIN, CloseElection(es["closed"].eid)), ErrorCode.TX_WRONG_PHASE),
    "close before open": (lambda w, es: w.tx(ADMIN, CloseElection(es["ceremony"].eid)), ErrorCode.TX_WRONG_PHASE),
    "cast before open": (
        lambda w, es: w.tx(kp("v"), CastBallot(es["ceremony"].eid, w.ballot(es["open"], kp("v")))),
        ErrorCode.TX_WRONG_PHASE,
    ),
    "cast after close": (lambda w, es: w.cast(es["closed"], es["closed"].voters[2]), ErrorCode.TX_WRONG_PHASE),
    "cast before the window": (lambda w, es: w.cast(es["future"], es["future"].voters[0]), ErrorCode.TX_OUTSIDE_WINDOW),
    "register after close": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["closed"].eid, (KeyEntry(kp("late").ed25519_public, b"l" * 32),))),
        ErrorCode.TX_WRONG_PHASE,
    ),
    # ceremony
    "commit by a non-trustee": (
        lambda w, es: w.tx(ADMIN, TrusteeCommit(es["ceremony"].eid, tr.make_commitment(
            es["ceremony"].m, 1, tr.polynomial(es["ceremony"].m, 1, TRUSTEES[0])))),
        ErrorCode.TX_NOT_TRUSTEE,
    ),
    "commit after open": (lambda w, es: commitment_for(w, es, "open", 1, 1), ErrorCode.TX_WRONG_PHASE),
    "commitment for another index": (lambda w, es: commitment_for(w, es, "ceremony", 2, 3), ErrorCode.TX_BAD_COMMITMENT),
    "second commitment": (lambda w, es: commitment_for(w, es, "ceremony", 1, 1), ErrorCode.TX_CEREMONY_DUPLICATE),
    "shares out of order": (shares_out_of_order, ErrorCode.TX_BAD_SHARES),
    "commitment with a bad proof": (bad_commitment, ErrorCode.TX_BAD_COMMITMENT),
    "commitment over a second encoding of a point": (second_encoding_commitment, ErrorCode.TX_BAD_COMMITMENT),
    "shares before commitment": (
        lambda w, es: w.tx(TRUSTEES[1], TrusteeShares(es["ceremony"].eid, ())),
        ErrorCode.TX_CEREMONY_INCOMPLETE,
    ),
    "open before the ceremony": (lambda w, es: w.tx(ADMIN, OpenElection(es["ceremony"].eid)), ErrorCode.TX_CEREMONY_INCOMPLETE),
    "complaint after open": (
        lambda w, es: w.tx(TRUSTEES[1], TrusteeComplaint(es["open"].eid, tr.make_complaint(es["open"].m, 1, 2))),
        ErrorCode.TX_WRONG_PHASE,
    ),
    "complaint about no shares": (
        lambda w, es: w.tx(TRUSTEES[1], TrusteeComplaint(es["ceremony"].eid, tr.make_complaint(es["ceremony"].m, 1, 2))),
        ErrorCode.TX_BAD_COMPLAINT,
    ),
    "complaint in another's name": (
        lambda w, es: w.tx(TRUSTEES[0], TrusteeComplaint(es["ceremony"].eid, tr.make_complaint(es["ceremony"].m, 1, 2))),
        ErrorCode.TX_BAD_COMPLAINT,
    ),
    "reveal without complaint": (
        lambda w, es: w.tx(TRUSTEES[0], TrusteeReveal(es["ceremony"].eid, tr.make_reveal(
            es["ceremony"].m, 1, tr.polynomial(es["ceremony"].m, 1, TRUSTEES[0]), 2))),
        ErrorCode.TX_BAD_REVEAL,
    ),
    "open before every share is acknowledged": (
        lambda w, es: w.tx(ADMIN, OpenElection(es["acks"].eid)),
        ErrorCode.TX_CEREMONY_UNACKNOWLEDGED,
    ),
    "acknowledge shares other than those posted": (
        lambda w, es: w.tx(TRUSTEES[2], TrusteeAcknowledge(es["acks"].eid, (ShareAck(1, b"\x00" * 32),))),
        ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
    ),
    "acknowledge one's own shares": (
        lambda w, es: w.tx(TRUSTEES[2], acknowledgement(es["acks"].eid, 0, {3: es["acks"].posted[3]})),
        ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
    ),
    "acknowledge a dealer with no shares": (
        lambda w, es: w.tx(TRUSTEES[2], TrusteeAcknowledge(es["ceremony"].eid, (ShareAck(1, b"\x00" * 32),))),
        ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
    ),
    "acknowledge after open": (lambda w, es: w.ack(es["open"], 1, (2,)), ErrorCode.TX_WRONG_PHASE),
    "acknowledge twice": (lambda w, es: w.ack(es["acks"], 1, (2,)), ErrorCode.TX_CEREMONY_DUPLICATE),
    "complaint after acknowledging": (
        lambda w, es: w.tx(TRUSTEES[0], TrusteeComplaint(es["acks"].eid, tr.make_complaint(es["acks"].m, 2, 1))),
        ErrorCode.TX_BAD_COMPLAINT,
    ),
    "open excluding a trustee that does not exist": (
        lambda w, es: w.tx(ADMIN, OpenElection(es["acks"].eid, (4,))),
        ErrorCode.TX_BAD_EXCLUSION,
    ),
    "open excluding trustees out of order": (
        lambda w, es: w.tx(ADMIN, OpenElection(es["acks"].eid, (3, 1))),
        ErrorCode.TX_BAD_EXCLUSION,
    ),
    "open excluding every trustee": (
        lambda w, es: w.tx(ADMIN, OpenElection(es["acks"].eid, (1, 2, 3))),
        ErrorCode.TX_CEREMONY_INCOMPLETE,
    ),
    "open with an identity joint key": (
        lambda w, es: w.tx(ADMIN, OpenElection(es["identity"].eid)),
        ErrorCode.TX_JOINT_KEY_IDENTITY,
    ),
    # registration
    "codes for a key election": (
        lambda w, es: w.tx(REGISTRAR, CommitCodes(es["open"].eid, b"s" * 32, (kp("c").ed25519_public,))),
        ErrorCode.TX_WRONG_ELIGIBILITY,
    ),
    "keys for a code election": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["codes"].eid, (KeyEntry(kp("k").ed25519_public, b"k" * 32),))),
        ErrorCode.TX_WRONG_ELIGIBILITY,
    ),
    "voter registered twice": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["open"].eid, (KeyEntry(es["open"].voters[0].ed25519_public, b"n" * 32),))),
        ErrorCode.TX_VOTER_REGISTERED,
    ),
    "same key twice in a batch": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["open"].eid, (
            KeyEntry(kp("twice").ed25519_public, b"a" * 32), KeyEntry(kp("twice").ed25519_public, b"b" * 32)))),
        ErrorCode.TX_VOTER_REGISTERED,
    ),
    "card used twice": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["open"].eid, (KeyEntry(kp("new").ed25519_public, w.tag(es["open"], 0)),))),
        ErrorCode.TX_CARD_TAG_USED,
    ),
    "code salt changed": (
        lambda w, es: w.tx(REGISTRAR, CommitCodes(es["codes"].eid, b"z" * 32, (kp("c2").ed25519_public,))),
        ErrorCode.TX_CODE_SALT_MISMATCH,
    ),
    "empty batch": (lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["open"].eid, ())), ErrorCode.TX_TOO_MANY_ENTRIES),
    "invalid voter key": (
        lambda w, es: w.tx(REGISTRAR, RegisterKeys(es["open"].eid, (KeyEntry(b"\xff" * 32, b"i" * 32),))),
        ErrorCode.TX_MALFORMED,
    ),
    # voting
    "unregistered voter": (lambda w, es: w.cast(es["open"], kp("stranger")), ErrorCode.TX_NOT_ELIGIBLE),
    "code used twice": (lambda w, es: w.cast(es["codes"], es["codes"].voters[0]), ErrorCode.TX_CODE_USED),
    "re-vote not allowed": (lambda w, es: w.cast(es["norevote"], es["norevote"].voters[0]), ErrorCode.TX_REVOTE_NOT_ALLOWED),
    "ballot copied from another voter": (copied_ballot, ErrorCode.TX_BAD_BALLOT),
    "ballot ciphertexts swapped": (mutated_ballot, ErrorCode.TX_BAD_BALLOT),
    "ballot over a second encoding of a point": (second_encoding_ballot, ErrorCode.TX_BAD_BALLOT),
    "ballot for another election": (
        lambda w, es: w.tx(es["open"].voters[0], CastBallot(es["open"].eid, w.ballot(es["closed"], es["open"].voters[0]))),
        ErrorCode.TX_BAD_BALLOT,
    ),
    "spoiled ballot that lies": (bad_spoil, ErrorCode.TX_BAD_SPOIL),
    "spoiled ciphertexts cast by another voter with its own proofs": (
        lambda w, es: w.cast_kept(es["limits"], es["limits"].voters[1], "s-copy"),
        ErrorCode.TX_BALLOT_SPOILED,
    ),
    "spoil the counted ballot": (
        lambda w, es: w.spoil(es["limits"], es["limits"].voters[2], "c2"),
        ErrorCode.TX_SPOIL_COUNTED,
    ),
    "spoil beyond the per-voter limit": (
        lambda w, es: w.tx(es["limits"].voters[0], SpoilBallot(es["limits"].eid, *ballot_crypto.encrypt_ballot(
            es["limits"].m, es["limits"].key, es["limits"].voters[0].ed25519_public, ((0, 1, 0),)))),
        ErrorCode.TX_TOO_MANY_SPOILS,
    ),
    "re-vote beyond the per-voter limit": (
        lambda w, es: w.cast(es["limits"], es["limits"].voters[0]),
        ErrorCode.TX_TOO_MANY_BALLOTS,
    ),
    # tally
    "decryption share before close": (
        lambda w, es: w.tx(TRUSTEES[0], PostDecryptionShare(es["open"].eid, w.dshare(es["closed"], 1))),
        ErrorCode.TX_WRONG_PHASE,
    ),
    "decryption share in another's name": (lambda w, es: share_tx(w, es, 2, 3), ErrorCode.TX_BAD_DECRYPTION_SHARE),
    "tampered decryption share": (lambda w, es: share_tx(w, es, 2, 2, tamper=True), ErrorCode.TX_BAD_DECRYPTION_SHARE),
    "decryption share twice": (lambda w, es: share_tx(w, es, 1, 1), ErrorCode.TX_SHARE_DUPLICATE),
    "result with wrong counts": (wrong_result, ErrorCode.TX_BAD_RESULT),
    "result with a missing share": (result_without_shares, ErrorCode.TX_BAD_RESULT),
    # paper vote overrides the internet vote
    "cast after a paper vote": (lambda w, es: w.cast(es["open"], paper_voter(w, es)), ErrorCode.TX_VOTE_CANCELLED),
    "cancel twice": (lambda w, es: cancel(w, es, "open", paper_voter(w, es).ed25519_public), ErrorCode.TX_VOTE_CANCELLED),
    "cancel by the admin": (
        lambda w, es: cancel(w, es, "open", es["open"].voters[2].ed25519_public, signer=ADMIN),
        ErrorCode.TX_UNAUTHORIZED,
    ),
    "cancel without re-voting": (
        lambda w, es: cancel(w, es, "norevote", es["norevote"].voters[0].ed25519_public),
        ErrorCode.TX_CANCEL_NOT_ALLOWED,
    ),
    "cancel after close": (
        lambda w, es: cancel(w, es, "closed", es["closed"].voters[0].ed25519_public),
        ErrorCode.TX_WRONG_PHASE,
    ),
    "cancel an unregistered key": (lambda w, es: cancel(w, es, "open", kp("nobody").ed25519_public), ErrorCode.TX_NOT_ELIGIBLE),
    "cancel one voter twice in one go": (
        lambda w, es: cancel(w, es, "open", *[es["open"].voters[2].ed25519_public] * 2),
        ErrorCode.TX_MALFORMED,
    ),
    "cancel nobody": (lambda w, es: cancel(w, es, "open"), ErrorCode.TX_TOO_MANY_ENTRIES),
    "cancel a voting code": (
        lambda w, es: cancel(w, es, "codes", es["codes"].voters[0].ed25519_public),
        ErrorCode.TX_CANCEL_NOT_ALLOWED,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_with_code(world: tuple[World, dict[str, Election]], name: str) -> None:
    w, es = world
    make, code = CASES[name]
    assert_rejected(w, es, make(w, es), code)


def test_every_tx_code_is_exercised() -> None:
    tx_codes = {c for c in ErrorCode if c.startswith("TX_")}
    covered = {code for _, code in CASES.values()}
    assert tx_codes - covered == set()


def test_auto_close_at_end_time(world: tuple[World, dict[str, Election]]) -> None:
    w, es = world
    e = es["open"]
    st = w.chain.state
    after_end = e.m.end_ms + 1
    with pytest.raises(TxError) as err:
        check_tx(st, w.tx(e.voters[1], CastBallot(e.eid, w.ballot(e, e.voters[1])), expires=after_end + HOUR), after_end)
    assert err.value.code == ErrorCode.TX_WRONG_PHASE
    block = make_block(st.height + 1, st.block_hash, after_end, VALIDATORS[1].ed25519_public, st.root, [])
    new = apply_block(st, block)
    status = new.election(e.eid)
    assert status is not None and status.phase == 2 and status.closed_ms == after_end
    assert election_id(e.m) == e.eid


def test_complaints_answered_and_unanswered() -> None:
    """GJKR: an answered complaint keeps the dealer qualified, an unanswered one drops it."""
    for answer in (True, False):
        w = World()
        e = w.create(w.manifest())
        w.ceremony(e, withhold=((1, 2),))
        w.run(w.tx(TRUSTEES[1], TrusteeComplaint(e.eid, tr.make_complaint(e.m, 1, 2))))
        if answer:
            reveal = tr.make_reveal(e.m, 1, e.coeffs[1], 2)
            w.run(w.tx(TRUSTEES[0], TrusteeReveal(e.eid, reveal)))
            again = w.tx(TRUSTEES[0], TrusteeReveal(e.eid, reveal), expires=w.chain.next_time() + 2 * HOUR)
            assert_rejected(w, {"open": e}, again, ErrorCode.TX_CEREMONY_DUPLICATE)
        else:
            lie = dataclasses.replace(tr.make_reveal(e.m, 1, e.coeffs[1], 2), share=b"\x01" + bytes(31))
            assert_rejected(w, {"open": e}, w.tx(TRUSTEES[0], TrusteeReveal(e.eid, lie)), ErrorCode.TX_BAD_REVEAL)
        w.register(e, 1)
        w.open(e)
        st = w.chain.state.election(e.eid)
        assert st is not None
        expected = (1, 2, 3) if answer else (2, 3)
        assert st.qualified == expected
        assert st.joint_key == tr.joint_key([e.coms[i] for i in expected])
