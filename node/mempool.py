"""The mempool: admitted transactions waiting for a block, in arrival order.

Admission is the expensive step (a ballot's proofs dominate the whole system's
CPU), so it happens once: ``check`` (the chain's ``check_tx`` against the
current state) records its verdict in the shared verify-once cache keyed by
transaction hash, and block validation later reuses it. The pool itself only
adds the operational limits around that check: deduplication (a resubmitted
pending transaction gets its tracking code back without a second check), a
bound on the number of pending transactions, and a per-client token bucket so
one client cannot crowd out the others (``node.rate_limit``: the table of clients is
itself bounded, so spoofed or many clients cannot grow it without limit).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ballot_tx.errors import BallotchainError, ErrorCode
from node.rate_limit import TokenBuckets

#: How many dropped transactions' outcomes (expired, rejected) are remembered for clients.
MAX_OUTCOMES = 100_000
#: Re-forwarding backoff of a pending transaction: first after this, doubling, capped.
REFORWARD_FIRST_S = 3.0
REFORWARD_MAX_S = 30.0


class MempoolError(BallotchainError):
    """A transaction the mempool will not take (full, duplicate, rate-limited)."""


@dataclass
class Pending:
    tx_hash: bytes
    raw: bytes
    tx: Any
    admitted_at: float
    local: bool = True  # submitted by a client of this node (not forwarded by a peer)
    meta: dict[str, Any] = field(default_factory=dict)
    next_forward: float = 0.0  # when to re-send it to the validators if still pending
    forward_gap: float = REFORWARD_FIRST_S


class Mempool:
    """Pending transactions by hash, in admission order.

    ``check(raw) -> (tx_hash, tx)`` decodes and validates a transaction against
    the current state, raising ``BallotchainError`` with the chain's code if it
    is invalid; ``committed(tx_hash)`` tells whether the chain already holds it.
    """

    def __init__(
        self,
        check: Callable[[bytes], tuple[bytes, Any]],
        committed: Callable[[bytes], bool],
        max_txs: int,
        rate_per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._committed = committed
        self.max_txs = max_txs
        self._clock = clock
        self._buckets = TokenBuckets(rate_per_s, clock)
        self._pending: OrderedDict[bytes, Pending] = OrderedDict()
        self._hash_of_raw: dict[bytes, bytes] = {}
        self.outcomes: OrderedDict[bytes, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._pending

    def get(self, tx_hash: bytes) -> Pending | None:
        return self._pending.get(tx_hash)

    def gate(self, raw: bytes, client: str | None) -> Pending | None:
        """The cheap part of ``add``, run before any verification work is spent on ``raw``
        (also by a caller that verifies elsewhere first, then calls ``add`` with client
        None): the client's rate limit (spends a token), a resubmitted pending transaction
        (returned), the pool bound. Raises ``MempoolError``."""
        if client is not None and not self._buckets.allow(client):
            raise MempoolError(ErrorCode.API_RATE_LIMITED, "too many transactions from this client")
        known = self._hash_of_raw.get(raw)
        if known is not None:
            return self._pending[known]
        if len(self._pending) >= self.max_txs:
            raise MempoolError(
                ErrorCode.NODE_MEMPOOL_FULL, f"mempool holds {self.max_txs} transactions"
            )
        return None

    def add(
        self,
        raw: bytes,
        client: str | None,
        local: bool = True,
        check: Callable[[bytes], tuple[bytes, Any]] | None = None,
    ) -> tuple[Pending, bool]:
        """Admit ``raw``; return (entry, new). ``client`` None skips the rate limit (peers).
        ``check`` replaces the pool's check for this one transaction (it carries verdicts
        reached on a verification worker).

        Raises ``MempoolError`` (rate limit, full, already committed) or the
        chain's error for an invalid transaction; the pool is unchanged then.
        """
        known_entry = self.gate(raw, client)
        if known_entry is not None:
            return known_entry, False
        tx_hash, tx = (check or self._check)(raw)
        if tx_hash in self._pending:
            return self._pending[tx_hash], False
        if self._committed(tx_hash):
            raise MempoolError(
                ErrorCode.NODE_DUPLICATE_TX, f"transaction {tx_hash.hex()} is already committed"
            )
        now = self._clock()
        p = Pending(tx_hash, raw, tx, now, local, next_forward=now + REFORWARD_FIRST_S)
        self.outcomes.pop(tx_hash, None)
        self._pending[tx_hash] = p
        self._hash_of_raw[raw] = tx_hash
        return p, True

    def batch(self, max_n: int, exclude: set[bytes] | frozenset[bytes] = frozenset()) -> list[Pending]:
        """Up to ``max_n`` pending transactions in admission order, skipping ``exclude``."""
        out: list[Pending] = []
        for h, p in self._pending.items():
            if len(out) >= max_n:
                break
            if h not in exclude:
                out.append(p)
        return out

    def admitted_before(self, age_s: float) -> list[Pending]:
        """The pending transactions admitted at least ``age_s`` seconds ago, oldest first
        (admission order is age order, so the scan stops at the first younger one)."""
        cutoff = self._clock() - age_s
        out: list[Pending] = []
        for p in self._pending.values():
            if p.admitted_at > cutoff:
                break
            out.append(p)
        return out

    def remove(self, hashes: Iterable[bytes]) -> list[Pending]:
        """Drop committed (or now invalid) transactions; return the entries removed."""
        gone = []
        for h in hashes:
            p = self._pending.pop(h, None)
            if p is not None:
                self._hash_of_raw.pop(p.raw, None)
                gone.append(p)
        return gone

    def record_outcome(self, tx_hash: bytes, outcome: dict[str, Any]) -> None:
        """Remember why a transaction left the pool without committing (bounded, oldest forgotten)."""
        self.outcomes[tx_hash] = outcome
        self.outcomes.move_to_end(tx_hash)
        while len(self.outcomes) > MAX_OUTCOMES:
            self.outcomes.popitem(last=False)

    def due_for_forward(self, max_n: int) -> list[Pending]:
        """Up to ``max_n`` pending transactions whose re-forward time has come, oldest first;
        each one's next re-forward is pushed back (doubling, capped)."""
        now = self._clock()
        out: list[Pending] = []
        for p in self._pending.values():
            if len(out) >= max_n:
                break
            if p.next_forward <= now:
                p.forward_gap = min(p.forward_gap * 2, REFORWARD_MAX_S)
                p.next_forward = now + p.forward_gap
                out.append(p)
        return out

    def revalidate(self, still_valid: Callable[[Pending], bool]) -> list[Pending]:
        """After a commit changed the state, drop pending transactions that became invalid."""
        return self.remove([h for h, p in list(self._pending.items()) if not still_valid(p)])
