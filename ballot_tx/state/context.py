"""The scratch space one block's execution (or one admission check) writes into.

Handlers read through it to the snapshot, keep the objects they decoded, and
write; only at the end are the dirty objects encoded into records. An undo
journal lets a proposer drop a failing transaction and go on with the rest.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ballot_tx.checks import Checker
from ballot_tx.codec import Wire, decode, encode
from ballot_tx.errors import (
    ErrorCode,
)
from ballot_tx.manifest import (
    Manifest,
)
from ballot_tx.state.guards import _tx_error
from ballot_tx.state.records import KEY_OPEN, ElectionStatus, OpenElections, W, _decode_opt, _k
from ballot_tx.state.snapshot import State


class _Exec:
    """Scratch space for one block (or one mempool check): reads through to the state,
    keeps decoded objects it touched, and writes canonical records at the end."""

    def __init__(self, state: State, time_ms: int, checker: Checker | None) -> None:
        self.state = state
        self.chain = state.chain
        self.t = time_ms
        self.checker = Checker() if checker is None else checker
        self.raw: dict[bytes, bytes | None] = {}
        self.objs: dict[bytes, Wire | None] = {}
        self.dirty: set[bytes] = set()
        # undo log, so a proposer can drop a failing transaction and go on
        self.journal: list[tuple[bool, bytes, bool, Any, bool]] = []
        self.manifests: dict[bytes, Manifest] = {}
        self.current = b""  # hash of the transaction being applied
        # False for a one-transaction admission check: whether a ballot is valid does not
        # depend on the running tally, and nothing after it reads the tally, so the point
        # additions (most of the loop's cost per demo ballot) are left to the block.
        self.count = True

    # records
    def get(self, key: bytes) -> bytes | None:
        if key in self.raw:
            return self.raw[key]
        return self.state.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.journal.append((False, key, key in self.raw, self.raw.get(key), False))
        self.raw[key] = value

    def obj(self, cls: type[W], key: bytes) -> W | None:
        if key in self.objs:
            return self.objs[key]  # type: ignore[return-value]
        v = _decode_opt(cls, self.get(key))
        self.objs[key] = v
        return v

    def set_obj(self, key: bytes, value: Wire) -> None:
        self.journal.append((True, key, key in self.objs, self.objs.get(key), key in self.dirty))
        self.objs[key] = value
        self.dirty.add(key)

    def rollback(self, mark: int) -> None:
        """Undo every write after ``mark`` (a length of the journal)."""
        while len(self.journal) > mark:
            is_obj, key, present, old, was_dirty = self.journal.pop()
            table: dict[bytes, Any] = self.objs if is_obj else self.raw
            if present:
                table[key] = old
            else:
                table.pop(key, None)
            if is_obj and not was_dirty:
                self.dirty.discard(key)

    def writes(self) -> dict[bytes, bytes | None]:
        for key in self.dirty:
            v = self.objs[key]
            self.raw[key] = None if v is None else encode(v)
        self.dirty.clear()
        return self.raw

    # typed helpers
    def manifest(self, eid: bytes) -> Manifest:
        m = self.manifests.get(eid)
        if m is None:
            data = self.get(_k(b"M", eid))
            if data is None:
                raise _tx_error(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
            m = _decode_manifest(data)
            self.manifests[eid] = m
        return m

    def status(self, eid: bytes) -> ElectionStatus:
        st = self.obj(ElectionStatus, _k(b"E", eid))
        if st is None:
            raise _tx_error(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
        return st

    def set_status(self, eid: bytes, st: ElectionStatus) -> None:
        self.set_obj(_k(b"E", eid), st)

    def open_ids(self) -> tuple[bytes, ...]:
        o = self.obj(OpenElections, KEY_OPEN)
        return () if o is None else o.ids

    def set_open_ids(self, ids: tuple[bytes, ...]) -> None:
        self.set_obj(KEY_OPEN, OpenElections(tuple(sorted(set(ids)))))


@lru_cache(maxsize=256)
def _decode_manifest(data: bytes) -> Manifest:
    """Manifests are immutable (written once, named by their hash): decode each once per
    process, not once per admission check."""
    return decode(Manifest, data)
