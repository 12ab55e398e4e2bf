"""The public ballot box: every ballot cast in an election, by tracking code, with what
became of it (counted, replaced by a later re-vote, cancelled by a paper vote, or opened
for checking).

Built from committed blocks only, so every honest node shows the same list. Which cast
ballot counts is not decided here: each election's casts and paper-vote cancellations are
fed, in chain order, to the one rule ``ballot_tx.state.voting.LastBallots`` (the fold the
audit's recount and ``last_ballots`` use), and the box asks it. The index is kept in
memory and extended block by block from where it stopped; a node that restarts rebuilds
it on first use.

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
from ballot_tx.state.voting import LastBallots
from ballot_tx.tx import CancelInternetVote, CastBallot, SpoilBallot

#: Hex digits of the short form of a tracking code (4 groups of 4).
SHORT_LEN = 16
#: Most ballots one page of the list returns.
MAX_PAGE = 500

COUNTED, REPLACED, CANCELLED, OPENED = "counted", "replaced", "cancelled", "opened"
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


@dataclass(frozen=True)
class Entry:
    code: str
    election: bytes
    height: int
    kind: str  # "cast" or "spoil"
    signer: bytes
    replaces: str | None  # the voter's cast this one replaced, as the rule names it


@dataclass
class BallotBox:
    """Index of every CastBallot and SpoilBallot on the chain (see module doc)."""

    block_at: Callable[[int], Block | None]
    height: int = 0
    by_code: dict[str, Entry] = field(default_factory=dict)
    sorted_codes: list[str] = field(default_factory=list)
    elections: dict[bytes, list[Entry]] = field(default_factory=dict)
    election_codes: dict[bytes, list[str]] = field(default_factory=dict)
    # election id -> the one rule, fed the election's casts (as tracking codes) in chain order
    rules: dict[bytes, LastBallots[str]] = field(default_factory=dict)
    opened: dict[bytes, int] = field(default_factory=dict)  # election id -> spoiled ballots

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
        # ...]], signer, ...]), 10 times faster than the typed decode (scripts/bench_ballotbox.py).
        try:
            plain = msgpack.unpackb(raw)
            tag, fields = plain[0]
            signer, eid = plain[1], fields[0]
        except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException):
            return
        if not (isinstance(eid, bytes) and len(eid) == 32 and isinstance(signer, bytes)):
            return
        if tag == CancelInternetVote.TAG:  # [election, [voter key, ...]]
            voters = fields[1] if len(fields) > 1 and isinstance(fields[1], list) else []
            self.cancel(eid, [v for v in voters if isinstance(v, bytes)])
        elif tag in (CastBallot.TAG, SpoilBallot.TAG):
            kind = "cast" if tag == CastBallot.TAG else "spoil"
            self.insert(tx_hash(raw).hex(), eid, height, kind, signer)

    def _rule(self, eid: bytes) -> LastBallots[str]:
        rule = self.rules.get(eid)
        if rule is None:
            rule = self.rules[eid] = LastBallots()
        return rule

    def insert(self, code: str, election: bytes, height: int, kind: str, signer: bytes) -> Entry:
        """Add one ballot, in chain order (keeping each election's codes sorted for search,
        so a page of 100,000 ballots is a slice, not a scan). A cast is handed to the
        election's rule, which names the ballot it replaces."""
        if kind == "spoil":
            self.opened[election] = self.opened.get(election, 0) + 1
            replaces = None
        else:
            replaces = self._rule(election).cast(signer, code)
        e = Entry(code, election, height, kind, signer, replaces)
        self.by_code[code] = e
        bisect.insort(self.sorted_codes, code)
        self.elections.setdefault(election, []).append(e)
        bisect.insort(self.election_codes.setdefault(election, []), code)
        return e

    def cancel(self, eid: bytes, voter_keys: list[bytes]) -> None:
        """A paper vote cancelled these voters' internet votes (CancelInternetVote)."""
        rule = self._rule(eid)
        for voter_key in voter_keys:
            rule.cancel(voter_key)

    def counts(self, eid: bytes) -> dict[str, int]:
        """An election's ballots, and how many are counted, replaced, cancelled, opened."""
        ballots = len(self.elections.get(eid, []))
        opened = self.opened.get(eid, 0)
        rule = self.rules.get(eid)
        if rule is None:
            return {"ballots": ballots, COUNTED: 0, REPLACED: 0, CANCELLED: 0, OPENED: opened}
        return {"ballots": ballots, COUNTED: rule.voters_counted(),
                REPLACED: ballots - opened - rule.voters_cast(),
                CANCELLED: rule.voters_cancelled(), OPENED: opened}

    def status(self, e: Entry) -> str:
        """What became of a ballot, as the rule says: a spoil was opened; a cast counts if
        the rule counts it, else it was replaced (a later cast is the voter's latest) or
        cancelled (it is the latest, but a paper vote cancelled it)."""
        if e.kind == "spoil":
            return OPENED
        rule = self.rules[e.election]
        if rule.counted(e.signer) == e.code:
            return COUNTED
        return CANCELLED if rule.latest(e.signer) == e.code else REPLACED

    def view(self, e: Entry) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tracking_code": e.code, "short": short_code(e.code), "election_id": e.election.hex(),
            "height": e.height, "kind": e.kind, "status": self.status(e),
        }
        if out["status"] == REPLACED:
            out["replaced_by"] = self.rules[e.election].latest(e.signer)
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
            "election_id": eid.hex(), "as_of_height": self.height, "counts": self.counts(eid),
            "query": q, "matching": matching, "offset": offset, "limit": limit,
            "ballots": [self.view(e) for e in page],
        }


def block_from_view(view: dict[str, Any] | None) -> Block | None:
    """A block from the API's JSON view (its canonical bytes), or None."""
    if view is None:
        return None
    b: Block = decode(Block, bytes.fromhex(view["block_bytes"]))
    return b
