"""Voters and their ballots: registration (by the election's eligibility method),
casting (the last counted ballot counts), Benaloh spoiling, and a paper vote
cancelling the internet vote.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ballot_tx.codec import decode, encode
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.eligibility import method
from ballot_tx.errors import (
    ErrorCode,
)
from ballot_tx.manifest import (
    Manifest,
    voting_open_at,
)
from ballot_tx.state.context import _Exec
from ballot_tx.state.guards import _crypto, _require, _require_phase, _tx_error
from ballot_tx.state.records import (
    ElectionStatus,
    Phase,
    VoterRecord,
    _ballot_from_ciphertexts,
    _ciphertext_bytes,
    _k,
    ciphertexts_digest,
)
from ballot_tx.tx import (
    CancelInternetVote,
    CastBallot,
    SpoilBallot,
    Tx,
)


def _register(x: _Exec, tx: Tx, b: Any) -> None:
    _require(x.chain.registrars, tx.signer, "registrar")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    elig = method(m.eligibility)
    if type(b) is not elig.registration:
        raise _tx_error(
            ErrorCode.TX_WRONG_ELIGIBILITY,
            f"election uses {m.eligibility!r}; this registration is for another method",
        )
    _require_phase(st, Phase.CEREMONY, Phase.OPEN)
    plan = elig.plan(b)
    salt = st.code_salt
    if plan.code_salt is not None:
        if salt is None:
            salt = plan.code_salt
        elif salt != plan.code_salt:
            raise _tx_error(ErrorCode.TX_CODE_SALT_MISMATCH, "all code batches of an election use one salt")
    for v in plan.voters:
        vkey = _k(b"V", eid, v.voter_key)
        if x.get(vkey) is not None:
            raise _tx_error(ErrorCode.TX_VOTER_REGISTERED, f"voter key {v.voter_key.hex()[:16]} is already registered")
        if v.card_tag is not None:
            tkey = _k(b"G", eid, v.card_tag)
            if x.get(tkey) is not None:
                raise _tx_error(ErrorCode.TX_CARD_TAG_USED, "the holder of this ID card already registered a voter")
            x.put(tkey, v.voter_key)
        x.put(vkey, encode(VoterRecord(v.single_use, v.card_tag, 0, None)))
    x.set_status(eid, replace(st, code_salt=salt, registered=st.registered + len(plan.voters)))


def _voting(x: _Exec, tx: Tx, eid: bytes) -> tuple[Manifest, ElectionStatus, VoterRecord]:
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.OPEN)
    if not voting_open_at(m, x.t):
        raise _tx_error(ErrorCode.TX_OUTSIDE_WINDOW, "the block time is outside the voting window")
    data = x.get(_k(b"V", eid, tx.signer))
    if data is None:
        raise _tx_error(ErrorCode.TX_NOT_ELIGIBLE, "the signer is not a registered voter of this election")
    voter = decode(VoterRecord, data)
    if voter.cancelled:
        raise _tx_error(ErrorCode.TX_VOTE_CANCELLED, "this voter voted on paper; the internet vote is cancelled")
    return m, st, voter


def _cast(x: _Exec, tx: Tx, b: CastBallot) -> None:
    eid = b.election_id
    m, st, voter = _voting(x, tx, eid)
    if voter.ballots:
        if voter.single_use:
            raise _tx_error(ErrorCode.TX_CODE_USED, "this voting code was already used")
        if not m.revoting:
            raise _tx_error(ErrorCode.TX_REVOTE_NOT_ALLOWED, "this voter already voted; re-voting is off")
    if voter.ballots >= m.max_ballots_per_voter:
        raise _tx_error(
            ErrorCode.TX_TOO_MANY_BALLOTS, f"this voter already cast {voter.ballots} ballots, the most allowed"
        )
    assert st.joint_key is not None
    key = st.joint_key
    if b.ballot.election_id != eid:
        raise _tx_error(ErrorCode.TX_BAD_BALLOT, "the ballot is for another election")
    cts = ciphertexts_digest(b.ballot)
    if x.get(_k(b"P", eid, cts)) is not None:
        raise _tx_error(ErrorCode.TX_BALLOT_SPOILED, "these ciphertexts were spoiled (opened in public) before")
    _crypto(ErrorCode.TX_BAD_BALLOT, lambda: x.checker.ballot(x.current, m, key, tx.signer, b.ballot))
    bkey = _k(b"B", eid, tx.signer)
    if x.count:
        tkey = _k(b"T", eid)
        tally = x.obj(tally_crypto.EncryptedTally, tkey)
        assert tally is not None
        tally = tally_crypto.add_ballot(tally, b.ballot)
        if voter.counted is not None:
            prev = x.get(bkey)
            assert prev is not None, "a re-voting election keeps every counted ballot"
            tally = tally_crypto.subtract_ballot(tally, _ballot_from_ciphertexts(m, eid, prev))
        x.set_obj(tkey, tally)
    if m.revoting and not voter.single_use:
        x.put(bkey, _ciphertext_bytes(b.ballot))
    x.put(
        _k(b"V", eid, tx.signer),
        encode(replace(voter, ballots=voter.ballots + 1, counted=x.current, counted_ciphertexts=cts)),
    )
    x.set_status(
        eid,
        replace(
            st,
            ballots_cast=st.ballots_cast + 1,
            voters_voted=st.voters_voted + (voter.counted is None),
        ),
    )


def _spoil(x: _Exec, tx: Tx, b: SpoilBallot) -> None:
    """A Benaloh challenge: the ballot is opened in public, so it must never count, and the
    ballot that does count must never be opened (that would be a receipt for a coercer)."""
    eid = b.election_id
    m, st, voter = _voting(x, tx, eid)
    if voter.spoils >= m.max_spoils_per_voter:
        raise _tx_error(
            ErrorCode.TX_TOO_MANY_SPOILS, f"this voter already spoiled {voter.spoils} ballots, the most allowed"
        )
    cts = ciphertexts_digest(b.ballot)
    if voter.counted_ciphertexts == cts:
        raise _tx_error(ErrorCode.TX_SPOIL_COUNTED, "this is the voter's counted ballot; it cannot be opened")
    assert st.joint_key is not None
    key = st.joint_key
    _crypto(
        ErrorCode.TX_BAD_SPOIL,
        lambda: x.checker.spoiled(x.current, m, key, tx.signer, b.ballot, b.secrets),
    )
    x.put(_k(b"P", eid, cts), x.current)
    x.put(_k(b"V", eid, tx.signer), encode(replace(voter, spoils=voter.spoils + 1)))
    x.set_status(eid, replace(st, spoiled=st.spoiled + 1))


def _cancel_internet_vote(x: _Exec, tx: Tx, b: CancelInternetVote) -> None:
    """A paper vote overrides the internet vote: each voter's counted ballot leaves the
    tally (its ciphertexts are kept in ``B`` by re-voting elections) and the key may cast
    no more. Registrar only (it alone maps persons to keys), before the close."""
    _require(x.chain.registrars, tx.signer, "registrar")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY, Phase.OPEN)
    if not m.revoting:
        raise _tx_error(ErrorCode.TX_CANCEL_NOT_ALLOWED,
                        "only re-voting elections keep the counted ballots a cancellation removes")
    if not b.voter_keys:
        raise _tx_error(ErrorCode.TX_TOO_MANY_ENTRIES, "a cancellation must name at least one voter")
    if len(set(b.voter_keys)) != len(b.voter_keys):
        raise _tx_error(ErrorCode.TX_MALFORMED, "a cancellation names a voter twice")
    tkey = _k(b"T", eid)
    tally = x.obj(tally_crypto.EncryptedTally, tkey)
    assert tally is not None
    uncounted = 0
    for k in b.voter_keys:
        data = x.get(_k(b"V", eid, k))
        if data is None:
            raise _tx_error(ErrorCode.TX_NOT_ELIGIBLE, f"voter key {k.hex()[:16]} is not registered in this election")
        voter = decode(VoterRecord, data)
        if voter.single_use:
            raise _tx_error(ErrorCode.TX_CANCEL_NOT_ALLOWED, "a one-time code belongs to no known person")
        if voter.cancelled:
            raise _tx_error(ErrorCode.TX_VOTE_CANCELLED, f"voter key {k.hex()[:16]} is already cancelled")
        if voter.counted is not None:
            prev = x.get(_k(b"B", eid, k))
            assert prev is not None, "a re-voting election keeps every counted ballot"
            tally = tally_crypto.subtract_ballot(tally, _ballot_from_ciphertexts(m, eid, prev))
            x.put(_k(b"B", eid, k), None)
            uncounted += 1
        x.put(_k(b"V", eid, k), encode(replace(voter, counted=None, counted_ciphertexts=None, cancelled=True)))
    x.set_obj(tkey, tally)
    x.set_status(eid, replace(st, voters_voted=st.voters_voted - uncounted,
                              cancelled=st.cancelled + len(b.voter_keys)))
