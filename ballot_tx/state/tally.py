"""After the close: the trustees' decryption shares of the running tally, and the
published result, checked against them.
"""

from __future__ import annotations

from dataclasses import replace

from ballot_tx.codec import encode
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.state.context import ExecutionContext
from ballot_tx.state.guards import crypto_check, require_phase, trustee_index
from ballot_tx.state.records import (
    Phase,
    decryption_share_key,
    decryption_shares,
    result_key,
    trustee_commitments,
)
from ballot_tx.tx import PostDecryptionShare, PublishResult, Tx


def post_decryption_share(ctx: ExecutionContext, tx: Tx, body: PostDecryptionShare) -> None:
    """After the close, trustee ``i`` posts its share of the tally's decryption, once,
    proved against its commitment."""
    eid = body.election_id
    manifest = ctx.manifest(eid)
    i = trustee_index(manifest, tx.signer)
    status = ctx.status(eid)
    require_phase(status, Phase.CLOSED)
    if body.share.trustee != i:
        raise TxError(
            ErrorCode.TX_BAD_DECRYPTION_SHARE,
            f"share names trustee {body.share.trustee}, signer is {i}",
        )
    share_key = decryption_share_key(eid, i)
    if ctx.get(share_key) is not None:
        raise TxError(
            ErrorCode.TX_SHARE_DUPLICATE, f"trustee {i} already posted its decryption share"
        )
    tally = ctx.tally(eid)
    commitments = trustee_commitments(ctx.get, eid, status.qualified)
    crypto_check(
        ErrorCode.TX_BAD_DECRYPTION_SHARE,
        lambda: ctx.checker.decryption_share(ctx.tx_hash, manifest, commitments, tally, body.share),
    )
    ctx.put(share_key, encode(body.share))


def publish_result(ctx: ExecutionContext, tx: Tx, body: PublishResult) -> None:
    """The admin or a trustee publishes the result; it must be what the posted shares
    decrypt the tally to. The election is then decided."""
    eid = body.election_id
    manifest = ctx.manifest(eid)
    if tx.signer not in ctx.chain.admins:
        trustee_index(manifest, tx.signer)
    status = ctx.status(eid)
    require_phase(status, Phase.CLOSED)
    shares = decryption_shares(ctx.get, eid, len(manifest.trustees))
    tally = ctx.tally(eid)
    commitments = trustee_commitments(ctx.get, eid, status.qualified)
    crypto_check(
        ErrorCode.TX_BAD_RESULT,
        lambda: ctx.checker.result(ctx.tx_hash, manifest, commitments, tally, shares, body.result),
    )
    ctx.put(result_key(eid), encode(body.result))
    ctx.set_status(eid, replace(status, phase=int(Phase.DECIDED)))
