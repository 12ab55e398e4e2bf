"""An election's lifecycle: created by the admin, opened with the ceremony's joint
key, closed by the admin or by the auto-close rule when its voting window ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ballot_tx.codec import encode
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.crypto.group import IDENTITY
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.manifest import Manifest, election_id, validate_manifest, voting_over
from ballot_tx.state.ceremony import qualified_trustees, unacknowledged_pairs
from ballot_tx.state.context import ExecutionContext
from ballot_tx.state.guards import crypto_check, require_phase, require_role
from ballot_tx.state.records import (
    ElectionStatus,
    Phase,
    manifest_key,
    tally_key,
    trustee_commitments,
)
from ballot_tx.tx import CloseElection, CreateElection, OpenElection, Tx


def create_election(ctx: ExecutionContext, tx: Tx, body: CreateElection) -> None:
    """The admin publishes a valid manifest whose voting window has not ended; the
    election starts in its ceremony with an empty tally."""
    require_role(ctx.chain.admins, tx.signer, "admin")
    manifest = body.manifest
    crypto_check(ErrorCode.TX_BAD_MANIFEST, lambda: validate_manifest(manifest))
    if voting_over(manifest, ctx.time_ms):
        raise TxError(ErrorCode.TX_BAD_MANIFEST, "the manifest's voting window has already ended")
    eid = election_id(manifest)
    if ctx.get(manifest_key(eid)) is not None:
        raise TxError(ErrorCode.TX_ELECTION_EXISTS, f"election {eid.hex()[:16]} already exists")
    ctx.put(manifest_key(eid), encode(manifest))
    ctx.set_status(eid, ElectionStatus(int(Phase.CEREMONY), None, (), None, 0, 0, 0, 0, None))
    ctx.put_object(tally_key(eid), tally_crypto.empty_tally(manifest))


def open_election(ctx: ExecutionContext, tx: Tx, body: OpenElection) -> None:
    """The admin ends the ceremony: at least ``threshold`` qualified trustees (less any
    excluded), every pair of them acknowledged, and their joint key fixed."""
    require_role(ctx.chain.admins, tx.signer, "admin")
    eid = body.election_id
    manifest = ctx.manifest(eid)
    status = ctx.status(eid)
    require_phase(status, Phase.CEREMONY)
    if voting_over(manifest, ctx.time_ms):
        raise TxError(ErrorCode.TX_OUTSIDE_WINDOW, "the voting window has already ended")
    if list(body.exclude) != sorted(set(body.exclude)) or not all(
        1 <= i <= len(manifest.trustees) for i in body.exclude
    ):
        raise TxError(
            ErrorCode.TX_BAD_EXCLUSION, "exclude must list trustee indices, each once, in order"
        )
    qualified = [i for i in qualified_trustees(ctx.get, eid, manifest) if i not in body.exclude]
    if len(qualified) < manifest.threshold:
        raise TxError(
            ErrorCode.TX_CEREMONY_INCOMPLETE,
            f"{len(qualified)} trustees have completed the ceremony, the threshold is {manifest.threshold}",
        )
    missing = unacknowledged_pairs(ctx.get, eid, qualified)
    if missing:
        i, j = missing[0]
        raise TxError(
            ErrorCode.TX_CEREMONY_UNACKNOWLEDGED,
            f"trustee {j} has not acknowledged trustee {i}'s shares ({len(missing)} pair(s) open)",
        )
    joint_key = trustee_crypto.joint_key(trustee_commitments(ctx.get, eid, qualified))
    if joint_key == IDENTITY:
        raise TxError(
            ErrorCode.TX_JOINT_KEY_IDENTITY,
            "the joint key would be the identity: nothing is secret",
        )
    ctx.set_status(
        eid, replace(status, phase=int(Phase.OPEN), joint_key=joint_key, qualified=tuple(qualified))
    )
    ctx.set_open_ids((*ctx.open_ids(), eid))


def close_election(ctx: ExecutionContext, tx: Tx, body: CloseElection) -> None:
    """The admin closes an open election early (``auto_close`` does it at the end time)."""
    require_role(ctx.chain.admins, tx.signer, "admin")
    status = ctx.status(body.election_id)
    require_phase(status, Phase.OPEN)
    close_now(ctx, body.election_id, status)


def close_now(ctx: ExecutionContext, eid: bytes, status: ElectionStatus) -> None:
    ctx.set_status(eid, replace(status, phase=int(Phase.CLOSED), closed_ms=ctx.time_ms))
    ctx.set_open_ids(tuple(other for other in ctx.open_ids() if other != eid))


def auto_close(ctx: ExecutionContext) -> None:
    """The auto-close rule: before a block's transactions (and before an admission check,
    as the next block would), every open election whose voting window is over at the
    block's time closes. The one implementation: the API's and the page's "closed"
    follow from this record, never from a clock of their own."""
    for eid in due_to_close(ctx.open_ids(), ctx.manifest, ctx.time_ms):
        close_now(ctx, eid, ctx.status(eid))


def due_to_close(
    open_ids: Iterable[bytes], manifest_of: Callable[[bytes], Manifest | None], time_ms: int
) -> list[bytes]:
    """The auto-close rule's test: the open elections whose voting window is over at
    ``time_ms``. ``auto_close`` closes them in a block; a node asks whether a block is due
    with ``due_to_close(state.open_elections(), state.manifest, now_ms)``."""
    return [
        eid
        for eid in open_ids
        if (manifest := manifest_of(eid)) is not None and voting_over(manifest, time_ms)
    ]
