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
from ballot_tx.errors import (
    BlockError,
    ErrorCode,
    TxError,
)
from ballot_tx.state.ceremony import (
    _trustee_acknowledge,
    _trustee_commit,
    _trustee_complaint,
    _trustee_reveal,
    _trustee_shares,
)
from ballot_tx.state.context import _Exec
from ballot_tx.state.election import _auto_close, _close, _create, _open
from ballot_tx.state.guards import _tx_error
from ballot_tx.state.records import _k
from ballot_tx.state.snapshot import State
from ballot_tx.state.tally import _decryption_share, _publish
from ballot_tx.state.voting import _cancel_internet_vote, _cast, _register, _spoil
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

_HANDLERS: dict[type[Wire], Callable[[_Exec, Tx, Any], None]] = {
    CreateElection: _create,
    TrusteeCommit: _trustee_commit,
    TrusteeShares: _trustee_shares,
    TrusteeComplaint: _trustee_complaint,
    TrusteeReveal: _trustee_reveal,
    TrusteeAcknowledge: _trustee_acknowledge,
    OpenElection: _open,
    CastBallot: _cast,
    SpoilBallot: _spoil,
    CloseElection: _close,
    PostDecryptionShare: _decryption_share,
    PublishResult: _publish,
    CancelInternetVote: _cancel_internet_vote,
}


def _handler(body: TxBody) -> Callable[[_Exec, Tx, Any], None]:
    h = _HANDLERS.get(type(body))
    return h if h is not None else _register


def _apply_tx(x: _Exec, tx: Tx, h: bytes, raw: bytes | None = None) -> None:
    if tx.expires_ms < x.t:
        raise _tx_error(ErrorCode.TX_EXPIRED, f"{tx.kind} expired at {tx.expires_ms} before block time {x.t}")
    if tx.expires_ms > x.t + MAX_TX_LIFETIME_MS:
        raise _tx_error(
            ErrorCode.TX_EXPIRY_TOO_FAR,
            f"{tx.kind} expires more than {MAX_TX_LIFETIME_MS // 3_600_000} h after block time",
        )
    seen_key = _k(b"X", h)
    if x.get(seen_key) is not None:
        raise _tx_error(ErrorCode.TX_DUPLICATE, f"{tx.kind} transaction {h.hex()[:16]} was already included")
    x.current = h
    x.checker.signature(h, tx, x.chain.chain_id, raw)
    _handler(tx.body)(x, tx, tx.body)
    x.put(seen_key, tx.expires_ms.to_bytes(8, "big"))


def _next_time_ok(state: State, time_ms: int) -> bool:
    if state.height == 0:
        return time_ms >= state.time_ms
    return time_ms > state.time_ms


def check_header(state: State, block: Block) -> None:
    """The header rules that need no transaction execution."""
    h = block.header
    g = state.chain.genesis
    if h.height != state.height + 1:
        raise BlockError(ErrorCode.BLOCK_BAD_HEIGHT, f"block height {h.height} does not follow {state.height}")
    if h.prev_hash != state.block_hash:
        raise BlockError(ErrorCode.BLOCK_BAD_PREV_HASH, f"block {h.height} does not link to block {state.height}")
    if not _next_time_ok(state, h.time_ms):
        raise BlockError(ErrorCode.BLOCK_BAD_TIME, f"block {h.height} time {h.time_ms} is not after {state.time_ms}")
    if h.proposer not in state.chain.validators:
        raise BlockError(ErrorCode.BLOCK_BAD_PROPOSER, f"block {h.height} proposer is not a genesis validator")
    if len(block.txs) > g.params.max_block_txs:
        raise BlockError(
            ErrorCode.BLOCK_TOO_MANY_TXS,
            f"block {h.height} has {len(block.txs)} transactions > {g.params.max_block_txs}",
        )
    size = block_bytes(block.txs)
    if size > g.params.max_block_bytes:
        raise BlockError(
            ErrorCode.BLOCK_TOO_LARGE,
            f"block {h.height} transactions total {size} bytes > {g.params.max_block_bytes}",
        )
    if h.state_root != state.root:
        raise BlockError(ErrorCode.BLOCK_BAD_STATE_ROOT, f"block {h.height} state root differs from the state it extends")
    check_tx_root(block)


def block_bytes(txs: tuple[bytes, ...] | list[bytes]) -> int:
    """What ``max_block_bytes`` limits: the sum of the transactions' encoded lengths."""
    return sum(len(t) for t in txs)


def _finish(state: State, x: _Exec, height: int, block_hash: bytes) -> State:
    writes = x.writes()
    lt = state.lthash.copy()
    final: dict[bytes, bytes | None] = {}
    for key, new in writes.items():
        old = state.get(key)
        if old == new:
            continue
        if old is not None:
            lt.remove(key, old)
        if new is not None:
            lt.add(key, new)
        final[key] = new
    return State(state.chain, state.base, lt, height, block_hash, x.t, parent=state, writes=final)


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
    x = _Exec(state, block.header.time_ms, checker)
    _auto_close(x)
    hashes = block.tx_hashes()
    for i, raw in enumerate(block.txs):
        try:
            tx = decode_tx(raw)
            h = hashes[i]
            _apply_tx(x, tx, h, raw)
        except TxError as e:
            raise BlockError(e.code, f"block {block.height}, tx {i}: {e.message}", tx_index=i) from None
        if observe is not None:
            observe(i, tx, h)
    return _finish(state, x, block.height, block.hash)


def check_tx(
    state: State, tx: Tx | bytes, now_ms: int, checker: Checker | None = None, raw: bytes | None = None
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
    h = tx_hash(raw)
    x = _Exec(state, now_ms, checker)
    x.count = False
    _auto_close(x)
    _apply_tx(x, decoded, h, raw)
    return h


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
    x = _Exec(state, time_ms, checker)
    _auto_close(x)
    params = state.chain.genesis.params
    max_txs = params.max_block_txs if limit is None else limit
    room = params.max_block_bytes
    kept: list[bytes] = []
    rejected: list[tuple[int, TxError]] = []
    for i, raw in enumerate(candidates):
        if len(kept) >= max_txs:
            break
        if len(raw) > room:
            continue
        mark = len(x.journal)
        try:
            _apply_tx(x, decode_tx(raw), tx_hash(raw), raw)
        except TxError as e:
            x.rollback(mark)
            rejected.append((i, e))
            continue
        kept.append(raw)
        room -= len(raw)
    return kept, rejected
