"""The public ballot box: every ballot cast in an election, by tracking code, with what
became of it (counted, replaced by a later re-vote, or opened for checking).

Built from committed blocks only, so every honest node shows the same list. What became of
a cast ballot follows from chain order alone: a voter's *last* cast ballot is the counted
one (the state machine replaces a counted ballot with every accepted re-vote), so no state
lookup is needed. The index is kept in memory and extended block by block from where it
stopped; a node that restarts rebuilds it on first use.

A tracking code has a short, spoken-friendly form: its first 16 hex digits in 4 groups of 4
(``3f2a 9c01 b7e4 5d20``). ``lookup`` finds a ballot by the full code or by any prefix of at
least ``SHORT_LEN`` digits, if exactly one ballot on the chain starts with it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ballot_tx.block import Block, tx_hash
from ballot_tx.codec import decode
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.tx import CastBallot, SpoilBallot

#: Hex digits of the short form of a tracking code (4 groups of 4).
SHORT_LEN = 16
#: Most ballots one page of the list returns.
MAX_PAGE = 500

COUNTED, REPLACED, OPENED = "counted", "replaced", "opened"
_HEX = re.compile(r"[0-9a-f]+")


def short_code(code_hex: str) -> str:
    """The short form a person reads out: the first 16 hex digits in groups of 4."""
    return " ".join(code_hex[i:i + 4] for i in range(0, SHORT_LEN, 4))


def clean_code(typed: str) -> str:
    """A typed tracking code (or its short form) without spaces or dashes, lowercase; raises
    RECEIPT_BAD_FORMAT with one plain sentence if it cannot be one."""
    s = re.sub(r"[\s\-\u3000]+", "", typed).lower()
    if not _HEX.fullmatch(s) or not SHORT_LEN <= len(s) <= 64:
        raise BallotchainError(
            ErrorCode.RECEIPT_BAD_FORMAT,
            "a tracking code is 64 characters 0-9 and a-f, or its short form of the first 16",
        )
    return s


@dataclass
class Entry:
    code: str
    election: bytes
    height: int
    kind: str  # "cast" or "spoil"
    signer: bytes
    replaces: str | None = None  # the same voter's cast ballot this one replaced


@dataclass
class BallotBox:
    """Index of every CastBallot and SpoilBallot on the chain (see module doc)."""

    block_at: Callable[[int], Block | None]
    height: int = 0
    by_code: dict[str, Entry] = field(default_factory=dict)
    sorted_codes: list[str] = field(default_factory=list)
    elections: dict[bytes, list[Entry]] = field(default_factory=dict)
    latest: dict[tuple[bytes, bytes], str] = field(default_factory=dict)
    election_codes: dict[bytes, list[str]] = field(default_factory=dict)
    counts: dict[bytes, dict[str, int]] = field(default_factory=dict)

    def refresh(self, tip: int) -> None:
        """Read the committed blocks above what is indexed, up to ``tip``."""
        while self.height < tip:
            block = self.block_at(self.height + 1)
            if block is None:
                return
            for raw in block.txs:
                self._add(raw, block.height)
            self.height += 1

    def _add(self, raw: bytes, height: int) -> None:
        # Committed transactions were fully decoded and checked by every validator; the
        # index needs three fields, so it reads the plain msgpack tree ([[TAG, [election,
        # ...]], signer, ...]), 40 times faster than the typed decode (scripts/bench_ballotbox.py).
        try:
            plain = msgpack.unpackb(raw)
            tag, fields = plain[0]
            signer, eid = plain[1], fields[0]
        except (ValueError, TypeError, IndexError, msgpack.UnpackException):
            return
        if tag not in (CastBallot.TAG, SpoilBallot.TAG) or not (
                isinstance(eid, bytes) and len(eid) == 32 and isinstance(signer, bytes)):
            return
        kind = "cast" if tag == CastBallot.TAG else "spoil"
        self.insert(Entry(tx_hash(raw).hex(), eid, height, kind, signer,
                          self.latest.get((eid, signer)) if kind == "cast" else None))

    def insert(self, e: Entry) -> None:
        """Add one ballot, in chain order (keeping each election's counts and codes sorted
        for search, so a page of 100,000 ballots is a slice, not a scan)."""
        self.by_code[e.code] = e
        bisect.insort(self.sorted_codes, e.code)
        self.elections.setdefault(e.election, []).append(e)
        bisect.insort(self.election_codes.setdefault(e.election, []), e.code)
        counts = self.counts.setdefault(e.election, {"ballots": 0, COUNTED: 0, REPLACED: 0, OPENED: 0})
        counts["ballots"] += 1
        if e.kind == "spoil":
            counts[OPENED] += 1
            return
        if e.replaces is not None:
            counts[REPLACED] += 1
        else:
            counts[COUNTED] += 1
        self.latest[(e.election, e.signer)] = e.code

    def status(self, e: Entry) -> str:
        if e.kind == "spoil":
            return OPENED
        return COUNTED if self.latest.get((e.election, e.signer)) == e.code else REPLACED

    def view(self, e: Entry) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tracking_code": e.code, "short": short_code(e.code), "election_id": e.election.hex(),
            "height": e.height, "kind": e.kind, "status": self.status(e),
        }
        if out["status"] == REPLACED:
            out["replaced_by"] = self.latest[(e.election, e.signer)]
        if e.replaces is not None:
            out["replaces"] = e.replaces
        return out

    def lookup(self, typed: str) -> dict[str, Any]:
        """The ballot with this full code or unique prefix (RECEIPT_NOT_FOUND,
        RECEIPT_AMBIGUOUS, RECEIPT_BAD_FORMAT otherwise)."""
        prefix = clean_code(typed)
        i = bisect.bisect_left(self.sorted_codes, prefix)
        hits = []
        for code in self.sorted_codes[i:i + 2]:
            if code.startswith(prefix):
                hits.append(code)
        if not hits:
            raise BallotchainError(ErrorCode.RECEIPT_NOT_FOUND, f"no ballot starts with {prefix}")
        if len(hits) > 1:
            raise BallotchainError(ErrorCode.RECEIPT_AMBIGUOUS,
                                   f"more than one ballot starts with {prefix}: give the full code")
        return self.view(self.by_code[hits[0]])

    def listing(self, eid: bytes, query: str = "", offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of an election's ballots in chain order (or, with ``query``, those whose
        code starts with it, in code order); with the election's counts."""
        entries = self.elections.get(eid, [])
        counts = dict(self.counts.get(eid, {"ballots": 0, COUNTED: 0, REPLACED: 0, OPENED: 0}))
        q = re.sub(r"[\s\-\u3000]+", "", query).lower()
        if q and not _HEX.fullmatch(q):
            raise BallotchainError(ErrorCode.RECEIPT_BAD_FORMAT,
                                   "search with the first characters of a tracking code (0-9, a-f)")
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        if q:  # the codes starting with q are one run of the sorted list
            codes = self.election_codes.get(eid, [])
            lo = bisect.bisect_left(codes, q)
            hi = bisect.bisect_left(codes, q + "g")  # "g" sorts after every hex digit
            page = [self.by_code[c] for c in codes[lo + offset:min(hi, lo + offset + limit)]]
            matching = hi - lo
        else:
            page, matching = entries[offset:offset + limit], len(entries)
        return {
            "election_id": eid.hex(), "as_of_height": self.height, "counts": counts,
            "query": q, "matching": matching, "offset": offset, "limit": limit,
            "ballots": [self.view(e) for e in page],
        }


def block_from_view(view: dict[str, Any] | None) -> Block | None:
    """A block from the API's JSON view (its canonical bytes), or None."""
    if view is None:
        return None
    b: Block = decode(Block, bytes.fromhex(view["block_bytes"]))
    return b
