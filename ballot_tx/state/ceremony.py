"""The trustees' key ceremony (GJKR, ``crypto/trustees.py``): commit, deal shares,
complain, reveal, acknowledge, and who is qualified once it ends.
"""

from __future__ import annotations

from collections.abc import Callable

from ballot_tx.codec import decode, encode
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.manifest import Manifest
from ballot_tx.state.context import ExecutionContext
from ballot_tx.state.guards import crypto_check, require_phase, trustee_index
from ballot_tx.state.records import (
    ElectionStatus,
    Phase,
    acknowledgement_key,
    commitment_key,
    complaint_key,
    decode_record,
    reveal_key,
    shares_key,
)
from ballot_tx.tx import (
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    shares_digest,
)


def ceremony_step(
    ctx: ExecutionContext, tx: Tx, eid: bytes
) -> tuple[Manifest, ElectionStatus, int]:
    """What every ceremony step requires: the signer is one of the election's trustees
    (its 1-based index is returned) and the election is still in its ceremony."""
    manifest = ctx.manifest(eid)
    i = trustee_index(manifest, tx.signer)
    status = ctx.status(eid)
    require_phase(status, Phase.CEREMONY)
    return manifest, status, i


def trustee_commit(ctx: ExecutionContext, tx: Tx, body: TrusteeCommit) -> None:
    """Ceremony step 1: trustee ``i`` commits to its polynomial (once, proofs checked)."""
    manifest, _, i = ceremony_step(ctx, tx, body.election_id)
    key = commitment_key(body.election_id, i)
    if ctx.get(key) is not None:
        raise TxError(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its commitment")
    if body.commitment.index != i:
        raise TxError(
            ErrorCode.TX_BAD_COMMITMENT,
            f"commitment names trustee {body.commitment.index}, signer is {i}",
        )
    crypto_check(
        ErrorCode.TX_BAD_COMMITMENT,
        lambda: ctx.checker.commitment(ctx.tx_hash, manifest, body.commitment),
    )
    ctx.put(key, encode(body.commitment))


def trustee_shares(ctx: ExecutionContext, tx: Tx, body: TrusteeShares) -> None:
    """Ceremony step 2: dealer ``i`` posts one encrypted share for every other trustee."""
    manifest, _, i = ceremony_step(ctx, tx, body.election_id)
    key = shares_key(body.election_id, i)
    if ctx.get(key) is not None:
        raise TxError(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its shares")
    if ctx.get(commitment_key(body.election_id, i)) is None:
        raise TxError(
            ErrorCode.TX_CEREMONY_INCOMPLETE, f"trustee {i} must post its commitment first"
        )
    n = len(manifest.trustees)
    want = [j for j in range(1, n + 1) if j != i]
    got = [(share.election_id, share.sender, share.recipient) for share in body.shares]
    if got != [(body.election_id, i, j) for j in want]:
        raise TxError(
            ErrorCode.TX_BAD_SHARES,
            f"trustee {i} must post one share for each other trustee, in order ({len(want)})",
        )
    ctx.put(key, encode(body))


def trustee_complaint(ctx: ExecutionContext, tx: Tx, body: TrusteeComplaint) -> None:
    """A recipient whose share from ``dealer`` does not open or match its commitment
    says so in public (before acknowledging it)."""
    manifest, _, accuser = ceremony_step(ctx, tx, body.election_id)
    complaint = body.complaint
    if complaint.accuser != accuser or complaint.election_id != body.election_id:
        raise TxError(
            ErrorCode.TX_BAD_COMPLAINT, f"the complaint is not trustee {accuser}'s in this election"
        )
    dealer = complaint.dealer
    if not 1 <= dealer <= len(manifest.trustees) or dealer == accuser:
        raise TxError(
            ErrorCode.TX_BAD_COMPLAINT, f"trustee {accuser} cannot complain about trustee {dealer}"
        )
    key = complaint_key(body.election_id, dealer, accuser)
    if ctx.get(key) is not None:
        raise TxError(
            ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {accuser} already complained about {dealer}"
        )
    if ctx.get(shares_key(body.election_id, dealer)) is None:
        raise TxError(
            ErrorCode.TX_BAD_COMPLAINT, f"trustee {dealer} has posted no shares to complain about"
        )
    if ctx.get(acknowledgement_key(body.election_id, dealer, accuser)) is not None:
        raise TxError(
            ErrorCode.TX_BAD_COMPLAINT,
            f"trustee {accuser} already acknowledged trustee {dealer}'s shares",
        )
    ctx.put(key, encode(complaint))


def trustee_acknowledge(ctx: ExecutionContext, tx: Tx, body: TrusteeAcknowledge) -> None:
    """Ceremony step 3: recipient ``j`` says each named dealer's shares open and match its
    commitment. The ack names the exact shares it checked (their digest), so it cannot
    be read as vouching for anything else."""
    eid = body.election_id
    _, _, j = ceremony_step(ctx, tx, eid)
    if not body.acks:
        raise TxError(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, "the acknowledgement names no dealer")
    last = 0
    for ack in body.acks:
        i = ack.dealer
        if i <= last or i == j:
            raise TxError(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
                f"dealers must be other trustees, in increasing order; got {i} after {last}",
            )
        last = i
        posted = ctx.get(shares_key(eid, i))
        if posted is None:
            raise TxError(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {i} has posted no shares")
        if shares_digest(decode(TrusteeShares, posted)) != ack.shares:
            raise TxError(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
                f"the acknowledgement is not for trustee {i}'s posted shares",
            )
        if ctx.get(complaint_key(eid, i, j)) is not None:
            raise TxError(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {j} complained about trustee {i}"
            )
        key = acknowledgement_key(eid, i, j)
        if ctx.get(key) is not None:
            raise TxError(
                ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {j} already acknowledged trustee {i}"
            )
        ctx.put(key, ack.shares)


def trustee_reveal(ctx: ExecutionContext, tx: Tx, body: TrusteeReveal) -> None:
    """Dealer ``i`` answers a complaint by revealing that share, checked against its
    commitment; a dealer that leaves a complaint unanswered is not qualified."""
    manifest, _, i = ceremony_step(ctx, tx, body.election_id)
    reveal = body.reveal
    if reveal.dealer != i:
        raise TxError(
            ErrorCode.TX_BAD_REVEAL, f"the reveal is trustee {reveal.dealer}'s, the signer is {i}"
        )
    if not 1 <= reveal.recipient <= len(manifest.trustees):
        raise TxError(ErrorCode.TX_BAD_REVEAL, f"no trustee {reveal.recipient}")
    if ctx.get(complaint_key(body.election_id, i, reveal.recipient)) is None:
        raise TxError(
            ErrorCode.TX_BAD_REVEAL,
            f"trustee {reveal.recipient} has not complained about trustee {i}",
        )
    key = reveal_key(body.election_id, i, reveal.recipient)
    if ctx.get(key) is not None:
        raise TxError(
            ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already answered this complaint"
        )
    commitment = decode_record(
        trustee_crypto.TrusteeCommitment, ctx.get(commitment_key(body.election_id, i))
    )
    assert commitment is not None, "shares (and so complaints) need a commitment first"
    crypto_check(
        ErrorCode.TX_BAD_REVEAL,
        lambda: ctx.checker.reveal(ctx.tx_hash, manifest, commitment, reveal),
    )
    ctx.put(key, encode(reveal))


def qualified_trustees(
    get: Callable[[bytes], bytes | None], eid: bytes, manifest: Manifest
) -> list[int]:
    """GJKR's qualified set: trustees that posted a (verified) commitment and their shares,
    and answered every complaint against them with a valid reveal."""
    n = len(manifest.trustees)
    out = []
    for i in range(1, n + 1):
        if get(commitment_key(eid, i)) is None or (n > 1 and get(shares_key(eid, i)) is None):
            continue
        if any(
            get(complaint_key(eid, i, j)) is not None and get(reveal_key(eid, i, j)) is None
            for j in range(1, n + 1)
        ):
            continue
        out.append(i)
    return out


def unacknowledged_pairs(
    get: Callable[[bytes], bytes | None], eid: bytes, qualified: list[int] | tuple[int, ...]
) -> list[tuple[int, int]]:
    """The (dealer, recipient) pairs of ``qualified`` where the recipient has not confirmed holding
    a valid share: neither acknowledged it nor had its complaint answered by a reveal (a
    complaint left unanswered already keeps the dealer out of ``qualified``)."""
    return [
        (i, j)
        for i in qualified
        for j in qualified
        if i != j
        and get(acknowledgement_key(eid, i, j)) is None
        and get(reveal_key(eid, i, j)) is None
    ]
