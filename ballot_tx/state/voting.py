"""Voters and their ballots: registration (by the election's eligibility method),
casting (the last counted ballot counts), Benaloh spoiling, and a paper vote
cancelling the internet vote.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from ballot_tx.codec import decode, encode
from ballot_tx.eligibility import method
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.manifest import Manifest, voting_open_at
from ballot_tx.state.context import ExecutionContext
from ballot_tx.state.guards import crypto_check, require_phase, require_role
from ballot_tx.state.records import (
    ElectionStatus,
    Phase,
    VoterRecord,
    ballot_from_ciphertexts,
    card_tag_key,
    ciphertext_bytes,
    ciphertexts_digest,
    counted_ballot_key,
    decode_record,
    spoiled_ballot_key,
    voter_record_key,
)
from ballot_tx.tx import CancelInternetVote, CastBallot, SpoilBallot, Tx


def register_voters(ctx: ExecutionContext, tx: Tx, body: Any) -> None:
    """The registrar adds voter keys, in the election's eligibility method's own
    registration form (``body`` is any of them); each key once, each ID card once."""
    require_role(ctx.chain.registrars, tx.signer, "registrar")
    eid = body.election_id
    manifest = ctx.manifest(eid)
    status = ctx.status(eid)
    eligibility = method(manifest.eligibility)
    if type(body) is not eligibility.registration:
        raise TxError(
            ErrorCode.TX_WRONG_ELIGIBILITY,
            f"election uses {manifest.eligibility!r}; this registration is for another method",
        )
    require_phase(status, Phase.CEREMONY, Phase.OPEN)
    plan = eligibility.plan(body)
    salt = status.code_salt
    if plan.code_salt is not None:
        if salt is None:
            salt = plan.code_salt
        elif salt != plan.code_salt:
            raise TxError(
                ErrorCode.TX_CODE_SALT_MISMATCH, "all code batches of an election use one salt"
            )
    for new_voter in plan.voters:
        record_key = voter_record_key(eid, new_voter.voter_key)
        if ctx.get(record_key) is not None:
            raise TxError(
                ErrorCode.TX_VOTER_REGISTERED,
                f"voter key {new_voter.voter_key.hex()[:16]} is already registered",
            )
        if new_voter.card_tag is not None:
            tag_key = card_tag_key(eid, new_voter.card_tag)
            if ctx.get(tag_key) is not None:
                raise TxError(
                    ErrorCode.TX_CARD_TAG_USED,
                    "the holder of this ID card already registered a voter",
                )
            ctx.put(tag_key, new_voter.voter_key)
        ctx.put(record_key, encode(VoterRecord(new_voter.single_use, new_voter.card_tag, 0, None)))
    ctx.set_status(
        eid, replace(status, code_salt=salt, registered=status.registered + len(plan.voters))
    )


def signing_voter(
    ctx: ExecutionContext, tx: Tx, eid: bytes
) -> tuple[Manifest, ElectionStatus, VoterRecord]:
    """What casting and spoiling require: the election is open at the block's time and
    the signer is a registered voter whose internet vote a paper vote has not cancelled."""
    manifest = ctx.manifest(eid)
    status = ctx.status(eid)
    require_phase(status, Phase.OPEN)
    if not voting_open_at(manifest, ctx.time_ms):
        raise TxError(ErrorCode.TX_OUTSIDE_WINDOW, "the block time is outside the voting window")
    data = ctx.get(voter_record_key(eid, tx.signer))
    if data is None:
        raise TxError(
            ErrorCode.TX_NOT_ELIGIBLE, "the signer is not a registered voter of this election"
        )
    voter = decode_record(VoterRecord, data)
    assert voter is not None
    if voter.cancelled:
        raise TxError(
            ErrorCode.TX_VOTE_CANCELLED, "this voter voted on paper; the internet vote is cancelled"
        )
    return manifest, status, voter


def cast_ballot(ctx: ExecutionContext, tx: Tx, body: CastBallot) -> None:
    """A valid ballot joins the running tally. The last ballot counts: in a re-voting
    election a voter's new ballot replaces the one counted before (taken out of the
    tally, kept under ``counted_ballot_key`` for that), so ``VoterRecord.counted`` always
    names the voter's latest cast. The one implementation of that rule; the audit's
    recount (``replay.py``) re-derives it from the blocks on purpose, to check it."""
    eid = body.election_id
    manifest, status, voter = signing_voter(ctx, tx, eid)
    if voter.ballots:
        if voter.single_use:
            raise TxError(ErrorCode.TX_CODE_USED, "this voting code was already used")
        if not manifest.revoting:
            raise TxError(
                ErrorCode.TX_REVOTE_NOT_ALLOWED, "this voter already voted; re-voting is off"
            )
    if voter.ballots >= manifest.max_ballots_per_voter:
        raise TxError(
            ErrorCode.TX_TOO_MANY_BALLOTS,
            f"this voter already cast {voter.ballots} ballots, the most allowed",
        )
    assert status.joint_key is not None
    joint_key = status.joint_key
    if body.ballot.election_id != eid:
        raise TxError(ErrorCode.TX_BAD_BALLOT, "the ballot is for another election")
    ciphertexts_hash = ciphertexts_digest(body.ballot)
    if ctx.get(spoiled_ballot_key(eid, ciphertexts_hash)) is not None:
        raise TxError(
            ErrorCode.TX_BALLOT_SPOILED, "these ciphertexts were spoiled (opened in public) before"
        )
    crypto_check(
        ErrorCode.TX_BAD_BALLOT,
        lambda: ctx.checker.ballot(ctx.tx_hash, manifest, joint_key, tx.signer, body.ballot),
    )
    if ctx.check_only:
        return  # every rule is checked; the effects below would be thrown away
    counted_key = counted_ballot_key(eid, tx.signer)
    ctx.count_ballot(eid, body.ballot)
    if voter.counted is not None:
        replaced = ctx.get(counted_key)
        assert replaced is not None, "a re-voting election keeps every counted ballot"
        ctx.uncount_ballot(eid, ballot_from_ciphertexts(manifest, eid, replaced))
    if manifest.revoting and not voter.single_use:
        ctx.put(counted_key, ciphertext_bytes(body.ballot))
    ctx.put(
        voter_record_key(eid, tx.signer),
        encode(
            replace(
                voter,
                ballots=voter.ballots + 1,
                counted=ctx.tx_hash,
                counted_ciphertexts=ciphertexts_hash,
            )
        ),
    )
    ctx.set_status(
        eid,
        replace(
            status,
            ballots_cast=status.ballots_cast + 1,
            voters_voted=status.voters_voted + (voter.counted is None),
        ),
    )


#: whatever a reader keeps of a ballot (its transaction bytes, its ciphertexts, its code)
B = TypeVar("B")


class LastBallots(Generic[B]):
    """The last ballot counts, read off committed blocks as they arrive: what
    ``cast_ballot`` keeps in the state, for readers of the blocks (the audit's recount,
    the public ballot box). Fed in chain order, each voter's last cast is the counted one,
    unless a paper vote cancelled the voter's internet vote (no cast follows a
    cancellation: ``signing_voter`` refuses it, so cancelling is final whatever the order).
    ``last_ballots`` folds it; an incremental reader keeps one and asks it."""

    def __init__(self) -> None:
        self._latest: dict[bytes, B] = {}
        self._cancelled: set[bytes] = set()
        self._cancelled_casts = 0  # cancelled voters who had cast (len(latest & cancelled))

    def cast(self, voter_key: bytes, ballot: B) -> B | None:
        """The voter's next cast ballot, in chain order. Returns the ballot it replaces
        (the voter's previous cast), None for a first ballot."""
        replaced = self._latest.get(voter_key)
        self._latest[voter_key] = ballot
        if replaced is None and voter_key in self._cancelled:
            self._cancelled_casts += 1
        return replaced

    def cancel(self, voter_key: bytes) -> B | None:
        """A paper vote cancelled the voter's internet vote. Returns the ballot that stops
        counting (None if the voter had cast none, or was cancelled before)."""
        if voter_key in self._cancelled:
            return None
        self._cancelled.add(voter_key)
        latest = self._latest.get(voter_key)
        if latest is not None:
            self._cancelled_casts += 1
        return latest

    def latest(self, voter_key: bytes) -> B | None:
        """The voter's last cast ballot, counted or cancelled."""
        return self._latest.get(voter_key)

    def counted(self, voter_key: bytes) -> B | None:
        """The voter's counted ballot: the last cast, unless a paper vote cancelled it."""
        return None if voter_key in self._cancelled else self._latest.get(voter_key)

    def all_counted(self) -> dict[bytes, B]:
        return {k: b for k, b in self._latest.items() if k not in self._cancelled}

    def voters_counted(self) -> int:
        """How many voters have a counted ballot (``ElectionStatus.voters_voted``)."""
        return len(self._latest) - self._cancelled_casts

    def voters_cancelled(self) -> int:
        """How many voters had cast a ballot that a paper vote then cancelled."""
        return self._cancelled_casts

    def voters_cast(self) -> int:
        """How many voters cast at least one ballot (so casts less this were replaced)."""
        return len(self._latest)


def last_ballots(
    casts: Iterable[tuple[bytes, B]], cancelled: Collection[bytes] = frozenset()
) -> dict[bytes, B]:
    """The last ballot counts, over a whole chain: of ``casts`` (voter key, ballot) in
    chain order, each voter's last, less the voters whose internet vote a paper vote
    cancelled. The fold of ``LastBallots``, so batch and incremental readers agree."""
    rule: LastBallots[B] = LastBallots()
    for voter_key, ballot in casts:
        rule.cast(voter_key, ballot)
    for voter_key in cancelled:
        rule.cancel(voter_key)
    return rule.all_counted()


def spoil_ballot(ctx: ExecutionContext, tx: Tx, body: SpoilBallot) -> None:
    """A Benaloh challenge: the ballot is opened in public, so it must never count, and the
    ballot that does count must never be opened (that would be a receipt for a coercer)."""
    eid = body.election_id
    manifest, status, voter = signing_voter(ctx, tx, eid)
    if voter.spoils >= manifest.max_spoils_per_voter:
        raise TxError(
            ErrorCode.TX_TOO_MANY_SPOILS,
            f"this voter already spoiled {voter.spoils} ballots, the most allowed",
        )
    ciphertexts_hash = ciphertexts_digest(body.ballot)
    if voter.counted_ciphertexts == ciphertexts_hash:
        raise TxError(
            ErrorCode.TX_SPOIL_COUNTED, "this is the voter's counted ballot; it cannot be opened"
        )
    assert status.joint_key is not None
    joint_key = status.joint_key
    crypto_check(
        ErrorCode.TX_BAD_SPOIL,
        lambda: ctx.checker.spoiled(
            ctx.tx_hash, manifest, joint_key, tx.signer, body.ballot, body.secrets
        ),
    )
    ctx.put(spoiled_ballot_key(eid, ciphertexts_hash), ctx.tx_hash)
    ctx.put(voter_record_key(eid, tx.signer), encode(replace(voter, spoils=voter.spoils + 1)))
    ctx.set_status(eid, replace(status, spoiled=status.spoiled + 1))


def cancel_internet_vote(ctx: ExecutionContext, tx: Tx, body: CancelInternetVote) -> None:
    """A paper vote overrides the internet vote: each voter's counted ballot leaves the
    tally (its ciphertexts are kept in ``B`` by re-voting elections) and the key may cast
    no more. Registrar only (it alone maps persons to keys), before the close."""
    require_role(ctx.chain.registrars, tx.signer, "registrar")
    eid = body.election_id
    manifest = ctx.manifest(eid)
    status = ctx.status(eid)
    require_phase(status, Phase.CEREMONY, Phase.OPEN)
    if not manifest.revoting:
        raise TxError(
            ErrorCode.TX_CANCEL_NOT_ALLOWED,
            "only re-voting elections keep the counted ballots a cancellation removes",
        )
    if not body.voter_keys:
        raise TxError(ErrorCode.TX_TOO_MANY_ENTRIES, "a cancellation must name at least one voter")
    if len(set(body.voter_keys)) != len(body.voter_keys):
        raise TxError(ErrorCode.TX_MALFORMED, "a cancellation names a voter twice")
    uncounted = 0
    for voter_key in body.voter_keys:
        data = ctx.get(voter_record_key(eid, voter_key))
        if data is None:
            raise TxError(
                ErrorCode.TX_NOT_ELIGIBLE,
                f"voter key {voter_key.hex()[:16]} is not registered in this election",
            )
        voter = decode(VoterRecord, data)
        if voter.single_use:
            raise TxError(
                ErrorCode.TX_CANCEL_NOT_ALLOWED, "a one-time code belongs to no known person"
            )
        if voter.cancelled:
            raise TxError(
                ErrorCode.TX_VOTE_CANCELLED,
                f"voter key {voter_key.hex()[:16]} is already cancelled",
            )
        if voter.counted is not None:
            replaced = ctx.get(counted_ballot_key(eid, voter_key))
            assert replaced is not None, "a re-voting election keeps every counted ballot"
            ctx.uncount_ballot(eid, ballot_from_ciphertexts(manifest, eid, replaced))
            ctx.put(counted_ballot_key(eid, voter_key), None)
            uncounted += 1
        ctx.put(
            voter_record_key(eid, voter_key),
            encode(replace(voter, counted=None, counted_ciphertexts=None, cancelled=True)),
        )
    ctx.set_status(
        eid,
        replace(
            status,
            voters_voted=status.voters_voted - uncounted,
            cancelled=status.cancelled + len(body.voter_keys),
        ),
    )
