"""One block's execution: ``apply_block(state, block, checker) -> state``, and the
proposer's and mempool's versions of it (``select_txs``, ``check_tx``).

Every transaction is checked (signature, expiry and uniqueness, authority,
phase, time window by *block* time, duplicates, eligibility, proofs) and either
applied or rejected with a ``TxError`` code; ``apply_block`` turns the first
rejection into a ``BlockError`` naming the transaction's index, and a block
with an invalid transaction is invalid as a whole.

Checks: every signature and proof goes through a ``checks.Checker``; the rules
call it unconditionally and read as the specification. A node passes a
``checks.MemoChecker``, which remembers positive verdicts under keys naming
every input of the check (transaction hash *and* joint key, commitments, tally),
so a verdict reached at admission or on a proposal that was later abandoned is
reused only where the same check would pass again (``checks.py`` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ballot_tx.block import Block, check_tx_root, tx_hash
from ballot_tx.checks import Checker
from ballot_tx.codec import Wire, encode
from ballot_tx.errors import BlockError, ErrorCode, TxError
from ballot_tx.state.ceremony import (
    trustee_acknowledge,
    trustee_commit,
    trustee_complaint,
    trustee_reveal,
    trustee_shares,
)
from ballot_tx.state.context import ExecutionContext
from ballot_tx.state.election import auto_close, close_election, create_election, open_election
from ballot_tx.state.records import included_tx_key
from ballot_tx.state.snapshot import State
from ballot_tx.state.tally import post_decryption_share, publish_result
from ballot_tx.state.voting import cancel_internet_vote, cast_ballot, register_voters, spoil_ballot
from ballot_tx.tx import (
    MAX_TX_LIFETIME_MS,
    CancelInternetVote,
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    SpoilBallot,
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    TxBody,
    decode_tx,
)

#: the rule for each transaction kind (registrations: see ``handler_for``)
HANDLERS: dict[type[Wire], Callable[[ExecutionContext, Tx, Any], None]] = {
    CreateElection: create_election,
    TrusteeCommit: trustee_commit,
    TrusteeShares: trustee_shares,
    TrusteeComplaint: trustee_complaint,
    TrusteeReveal: trustee_reveal,
    TrusteeAcknowledge: trustee_acknowledge,
    OpenElection: open_election,
    CastBallot: cast_ballot,
    SpoilBallot: spoil_ballot,
    CloseElection: close_election,
    PostDecryptionShare: post_decryption_share,
    PublishResult: publish_result,
    CancelInternetVote: cancel_internet_vote,
}


def handler_for(body: TxBody) -> Callable[[ExecutionContext, Tx, Any], None]:
    """The rule for ``body``'s kind; a kind not listed is a registration, whose form the
    election's eligibility method names (``register_voters`` checks which)."""
    handler = HANDLERS.get(type(body))
    return handler if handler is not None else register_voters


def apply_tx(ctx: ExecutionContext, tx: Tx, txhash: bytes, raw: bytes | None = None) -> None:
    """The rules every transaction meets (expiry, included once, signature), then its own."""
    if tx.expires_ms < ctx.time_ms:
        raise TxError(
            ErrorCode.TX_EXPIRED,
            f"{tx.kind} expired at {tx.expires_ms} before block time {ctx.time_ms}",
        )
    if tx.expires_ms > ctx.time_ms + MAX_TX_LIFETIME_MS:
        raise TxError(
            ErrorCode.TX_EXPIRY_TOO_FAR,
            f"{tx.kind} expires more than {MAX_TX_LIFETIME_MS // 3_600_000} h after block time",
        )
    seen_key = included_tx_key(txhash)
    if ctx.get(seen_key) is not None:
        raise TxError(
            ErrorCode.TX_DUPLICATE,
            f"{tx.kind} transaction {txhash.hex()[:16]} was already included",
        )
    ctx.tx_hash = txhash
    ctx.checker.signature(txhash, tx, ctx.chain.chain_id, raw)
    handler_for(tx.body)(ctx, tx, tx.body)
    ctx.put(seen_key, tx.expires_ms.to_bytes(8, "big"))


def block_time_follows(state: State, time_ms: int) -> bool:
    """Block times strictly increase; block 1 may carry the genesis time itself."""
    if state.height == 0:
        return time_ms >= state.time_ms
    return time_ms > state.time_ms


def check_header(state: State, block: Block) -> None:
    """The header rules that need no transaction execution."""
    header = block.header
    genesis = state.chain.genesis
    if header.height != state.height + 1:
        raise BlockError(
            ErrorCode.BLOCK_BAD_HEIGHT,
            f"block height {header.height} does not follow {state.height}",
        )
    if header.prev_hash != state.block_hash:
        raise BlockError(
            ErrorCode.BLOCK_BAD_PREV_HASH,
            f"block {header.height} does not link to block {state.height}",
        )
    if not block_time_follows(state, header.time_ms):
        raise BlockError(
            ErrorCode.BLOCK_BAD_TIME,
            f"block {header.height} time {header.time_ms} is not after {state.time_ms}",
        )
    if header.proposer not in state.chain.validators:
        raise BlockError(
            ErrorCode.BLOCK_BAD_PROPOSER,
            f"block {header.height} proposer is not a genesis validator",
        )
    if len(block.txs) > genesis.params.max_block_txs:
        raise BlockError(
            ErrorCode.BLOCK_TOO_MANY_TXS,
            f"block {header.height} has {len(block.txs)} transactions > {genesis.params.max_block_txs}",
        )
    size = block_bytes(block.txs)
    if size > genesis.params.max_block_bytes:
        raise BlockError(
            ErrorCode.BLOCK_TOO_LARGE,
            f"block {header.height} transactions total {size} bytes > {genesis.params.max_block_bytes}",
        )
    if header.state_root != state.root:
        raise BlockError(
            ErrorCode.BLOCK_BAD_STATE_ROOT,
            f"block {header.height} state root differs from the state it extends",
        )
    check_tx_root(block)


def block_bytes(txs: tuple[bytes, ...] | list[bytes]) -> int:
    """What ``max_block_bytes`` limits: the sum of the transactions' encoded lengths."""
    return sum(len(tx) for tx in txs)


def state_after(state: State, ctx: ExecutionContext, height: int, block_hash: bytes) -> State:
    """The snapshot over ``state`` holding the records ``ctx`` changed, its LtHash
    updated record by record (a record written back unchanged is not a write)."""
    writes = ctx.writes()
    lthash = state.lthash.copy()
    final: dict[bytes, bytes | None] = {}
    for key, new in writes.items():
        old = state.get(key)
        if old == new:
            continue
        if old is not None:
            lthash.remove(key, old)
        if new is not None:
            lthash.add(key, new)
        final[key] = new
    return State(
        state.chain, state.base, lthash, height, block_hash, ctx.time_ms, parent=state, writes=final
    )


def apply_block(
    state: State,
    block: Block,
    checker: Checker | None = None,
    observe: Callable[[int, Tx, bytes], None] | None = None,
) -> State:
    """The state after ``block``, or ``BlockError`` (with ``tx_index`` for a bad transaction).

    ``checker`` runs (or recalls) the signature and proof checks; the default runs
    them all. ``observe(index, tx, tx_hash)`` is called for each applied transaction
    (the audit reads the decoded transactions there instead of decoding them again).
    """
    check_header(state, block)
    ctx = ExecutionContext(state, block.header.time_ms, checker)
    auto_close(ctx)
    hashes = block.tx_hashes()
    for index, raw in enumerate(block.txs):
        try:
            tx = decode_tx(raw)
            txhash = hashes[index]
            apply_tx(ctx, tx, txhash, raw)
        except TxError as e:
            raise BlockError(
                e.code, f"block {block.height}, tx {index}: {e.message}", tx_index=index
            ) from None
        if observe is not None:
            observe(index, tx, txhash)
    return state_after(state, ctx, block.height, block.hash)


def check_tx(
    state: State,
    tx: Tx | bytes,
    now_ms: int,
    checker: Checker | None = None,
    raw: bytes | None = None,
) -> bytes:
    """Admission check for the mempool: would ``tx`` apply on ``state`` at time ``now_ms``?

    Runs every stateless and stateful rule (auto-closing elections whose end time
    passed, as the next block would), raises ``TxError`` with the rule's code, and
    on success leaves the verdicts in ``checker``. Returns the transaction hash.
    A caller holding both the decoded ``tx`` and its bytes passes ``raw`` too (it
    must be ``tx``'s canonical encoding), saving a second decode or encode.
    """
    if raw is None:
        raw = tx if isinstance(tx, bytes) else encode(tx)
    decoded = decode_tx(raw) if isinstance(tx, bytes) else tx
    txhash = tx_hash(raw)
    ctx = ExecutionContext(state, now_ms, checker)
    ctx.check_only = True
    auto_close(ctx)
    apply_tx(ctx, decoded, txhash, raw)
    return txhash


def select_txs(
    state: State,
    candidates: list[bytes],
    time_ms: int,
    checker: Checker | None = None,
    limit: int | None = None,
) -> tuple[list[bytes], list[tuple[int, TxError]]]:
    """For a proposer: the candidates that apply, in order, on ``state`` at ``time_ms``
    (each checked against the ones kept before it), and the rejected ones by index
    with their error. A transaction valid alone but conflicting with an earlier one
    (a second ballot with one code, say) is dropped instead of spoiling the block.
    The block stays within ``max_block_bytes``: a candidate that would overflow it is
    left for a later block (not rejected)."""
    ctx = ExecutionContext(state, time_ms, checker)
    auto_close(ctx)
    params = state.chain.genesis.params
    max_txs = params.max_block_txs if limit is None else limit
    room = params.max_block_bytes
    kept: list[bytes] = []
    rejected: list[tuple[int, TxError]] = []
    for index, raw in enumerate(candidates):
        if len(kept) >= max_txs:
            break
        if len(raw) > room:
            continue
        mark = len(ctx.journal)
        try:
            apply_tx(ctx, decode_tx(raw), tx_hash(raw), raw)
        except TxError as e:
            ctx.rollback(mark)
            rejected.append((index, e))
            continue
        kept.append(raw)
        room -= len(raw)
    return kept, rejected
