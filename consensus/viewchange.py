"""VIEW-CHANGE and NEW-VIEW proofs (Castro & Liskov, OSDI'99 §4.4), as pure functions.

VIEW-CHANGE ``<VIEW-CHANGE, v+1, n, C, P, i>``: n is the replica's latest stable checkpoint,
C its proof (2f+1 CHECKPOINTs), P holds, for each height above n that *prepared* at i, a
pre-prepare and 2f matching prepares from distinct backups. (We keep one P_m per height,
the one from the highest view: the NEW-VIEW rule below only ever uses that one.)

NEW-VIEW ``<NEW-VIEW, v+1, V, O>``: V is 2f+1 valid VIEW-CHANGEs for v+1 from distinct
replicas (the primary's own included); O is computed from V alone:

1. min-s = the height of the latest stable checkpoint in V; max-s = the highest height
   of a prepared proof in V.
2. for every n with min-s < n <= max-s, if some P in V has a proof for n, the
   pre-prepare for (v+1, n) carries the digest of the proof with the highest view;
   otherwise the paper uses a null request.

Blockchain deviation (documented): a height cannot hold "no block", so there are no null
requests. Instead O stops before the first height with no prepared proof in V. This is
safe: an honest replica prepares height n only after committing n-1, so if any block
committed at some n' > n, then n itself committed, 2f+1 replicas prepared it and at least
one honest one of them is in V (quorum intersection) and reports n unless n <= its
stable checkpoint <= min-s. So nothing at or above a gap can have committed.

Backups accept NEW-VIEW only if every VIEW-CHANGE in V verifies and O equals what they
compute from V themselves, so a faulty new primary cannot drop or alter a prepared block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ballot_tx.codec import encode
from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.checkpoint import check_checkpoint_proof
from consensus.messages import (
    CheckpointProof,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    ViewChange,
)
from consensus.verify import Verifier

PrimaryOf = Callable[[int], int]


def check_prepared_proof(verifier: Verifier, proof: PreparedProof, primary_of: PrimaryOf) -> None:
    """P_m: primary(view)'s PRE-PREPARE plus 2f PREPAREs from distinct backups (§4.2)."""
    primary = primary_of(proof.view)
    pp = PrePrepare(proof.view, proof.height, proof.block_hash)
    if not verifier.valid(primary, pp, proof.pre_prepare_sig):
        raise ConsensusError(
            ErrorCode.CONSENSUS_BAD_VIEW_CHANGE,
            f"prepared proof for height {proof.height}: bad pre-prepare signature",
        )
    body = Prepare(proof.view, proof.height, proof.block_hash)
    verifier.require_quorum(
        proof.prepares,
        lambda _i: body,
        2 * verifier.f,
        ErrorCode.CONSENSUS_BAD_VIEW_CHANGE,
        f"prepared proof for height {proof.height}",
        exclude=primary,
    )


def check_view_change(verifier: Verifier, vc: ViewChange, primary_of: PrimaryOf) -> None:
    """A VIEW-CHANGE is valid if C proves its checkpoint and every P_m is a valid prepared
    proof for a height above that checkpoint from a view below ``new_view`` (§4.4)."""
    try:
        check_checkpoint_proof(verifier, vc.checkpoint)
    except ConsensusError as e:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_VIEW_CHANGE, e.message) from None
    heights: set[int] = set()
    for p in vc.prepared:
        if p.height <= vc.checkpoint.height:
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_VIEW_CHANGE,
                f"prepared proof at height {p.height} is not above checkpoint "
                f"{vc.checkpoint.height}",
            )
        if p.view >= vc.new_view:
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_VIEW_CHANGE,
                f"prepared proof from view {p.view} is not below new view {vc.new_view}",
            )
        if p.height in heights:
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_VIEW_CHANGE, f"two prepared proofs for height {p.height}"
            )
        heights.add(p.height)
        check_prepared_proof(verifier, p, primary_of)


def compute_new_view(
    view_changes: Iterable[ViewChange],
) -> tuple[CheckpointProof, tuple[tuple[int, bytes], ...]]:
    """The min-s checkpoint and O (as (height, block_hash) pairs) from V (§4.4, rule above)."""
    vcs = list(view_changes)
    best_cp = max((vc.checkpoint for vc in vcs), key=lambda c: (c.height, encode(c)))
    min_s = best_cp.height
    best: dict[int, PreparedProof] = {}
    for vc in vcs:
        for p in vc.prepared:
            cur = best.get(p.height)
            # highest view wins; equal views with different hashes cannot both be prepared
            # by quorums unless > f are faulty, the hash only makes the choice deterministic
            if cur is None or (p.view, p.block_hash) > (cur.view, cur.block_hash):
                best[p.height] = p
    max_s = max(best, default=min_s)
    entries: list[tuple[int, bytes]] = []
    for n in range(min_s + 1, max_s + 1):
        if n not in best:
            break  # no null blocks: stop at the first gap (see module docstring)
        entries.append((n, best[n].block_hash))
    return best_cp, tuple(entries)


def check_new_view(
    verifier: Verifier, nv: NewView, primary_of: PrimaryOf
) -> tuple[CheckpointProof, tuple[tuple[int, bytes], ...]]:
    """Verify a NEW-VIEW (its own signature is checked by the caller); return min-s and O."""

    def bad(why: str) -> ConsensusError:
        return ConsensusError(ErrorCode.CONSENSUS_BAD_NEW_VIEW, f"new view {nv.view}: {why}")

    senders: set[int] = set()
    for svc in nv.view_changes:
        if svc.sender in senders:
            raise bad(f"two view changes from validator {svc.sender}")
        if svc.body.new_view != nv.view:
            raise bad(f"view change of validator {svc.sender} is for view {svc.body.new_view}")
        if not verifier.valid(svc.sender, svc.body, svc.signature):
            raise bad(f"view change of validator {svc.sender} has a bad signature")
        try:
            check_view_change(verifier, svc.body, primary_of)
        except ConsensusError as e:
            raise bad(e.message) from None
        senders.add(svc.sender)
    if len(senders) < verifier.quorum:
        raise bad(f"{len(senders)} view changes, need {verifier.quorum}")
    cp, entries = compute_new_view(s.body for s in nv.view_changes)
    got = tuple((e.height, e.block_hash) for e in nv.pre_prepares)
    if got != entries:
        raise bad("pre-prepares differ from those computed from the view changes")
    primary = primary_of(nv.view)
    for entry in nv.pre_prepares:
        pp = PrePrepare(nv.view, entry.height, entry.block_hash)
        if not verifier.valid(primary, pp, entry.signature):
            raise bad(f"pre-prepare for height {entry.height} has a bad signature")
    return cp, entries
