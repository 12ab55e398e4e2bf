"""The scratch space one block's execution (or one admission check) writes into.

Handlers read through it to the snapshot, keep the objects they decoded, and
write; only at the end are the dirty objects encoded into records. An undo
journal lets a proposer drop a failing transaction and go on with the rest.

Running tallies are counted into through ``count_ballot`` / ``uncount_ballot`` only:
while a block executes, each election's tally is held decoded
(``tally_crypto.RunningTally``) and encoded once, into its ``T`` record, at the end. The
record's bytes are those of adding and subtracting the ballots one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ballot_tx.checks import Checker
from ballot_tx.codec import Wire, decode, encode
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto.ballot import EncryptedBallot
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.manifest import Manifest
from ballot_tx.state.records import (
    KEY_OPEN,
    ElectionStatus,
    OpenElections,
    W,
    decode_record,
    election_key,
    manifest_key,
    tally_key,
)
from ballot_tx.state.snapshot import State


@dataclass(frozen=True)
class Counted:
    """A journal entry: ``ballot`` was counted into (``added``) or out of an election's tally."""

    election_id: bytes
    ballot: EncryptedBallot
    added: bool


class ExecutionContext:
    """Scratch space for one block (or one mempool check): reads through to the state,
    keeps decoded objects it touched, and writes canonical records at the end."""

    def __init__(self, state: State, time_ms: int, checker: Checker | None) -> None:
        self.state = state
        self.chain = state.chain
        self.time_ms = time_ms
        self.checker = Checker() if checker is None else checker
        self.records: dict[bytes, bytes | None] = {}
        self.objects: dict[bytes, Wire | None] = {}
        self.dirty: set[bytes] = set()
        # undo log, so a proposer can drop a failing transaction and go on:
        # (is object, key, was present, old value, was dirty) per write, Counted per count
        self.journal: list[tuple[bool, bytes, bool, Any, bool] | Counted] = []
        self.counting: dict[bytes, tally_crypto.RunningTally] = {}  # eid -> tally held decoded
        self.manifests: dict[bytes, Manifest] = {}
        self.tx_hash = b""  # hash of the transaction being applied
        # True for a one-transaction admission check (``check_tx``): a handler may stop once
        # every rule has passed, because the context and its writes are thrown away. Valid
        # only where no rule reads what an earlier effect of the same transaction wrote:
        # ``cast_ballot`` (the hot one) checks everything first; its effects (the running
        # tally's point additions, most of the loop's cost per demo ballot, and the new
        # voter and election records) are left to the block.
        self.check_only = False

    # records
    def get(self, key: bytes) -> bytes | None:
        if key in self.records:
            return self.records[key]
        return self.state.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.journal.append((False, key, key in self.records, self.records.get(key), False))
        self.records[key] = value

    def get_object(self, cls: type[W], key: bytes) -> W | None:
        if key in self.objects:
            return self.objects[key]  # type: ignore[return-value]
        value = decode_record(cls, self.get(key))
        self.objects[key] = value
        return value

    def put_object(self, key: bytes, value: Wire) -> None:
        self.journal.append(
            (True, key, key in self.objects, self.objects.get(key), key in self.dirty)
        )
        self.objects[key] = value
        self.dirty.add(key)

    def rollback(self, mark: int) -> None:
        """Undo every write after ``mark`` (a length of the journal)."""
        while len(self.journal) > mark:
            entry = self.journal.pop()
            if isinstance(entry, Counted):
                running = self.counting[entry.election_id]
                (running.subtract if entry.added else running.add)(entry.ballot)
                continue
            is_obj, key, present, old, was_dirty = entry
            table: dict[bytes, Any] = self.objects if is_obj else self.records
            if present:
                table[key] = old
            else:
                table.pop(key, None)
            if is_obj and not was_dirty:
                self.dirty.discard(key)

    def writes(self) -> dict[bytes, bytes | None]:
        for key in self.dirty:
            value = self.objects[key]
            self.records[key] = None if value is None else encode(value)
        self.dirty.clear()
        for eid, running in self.counting.items():
            self.records[tally_key(eid)] = encode(running.tally())
        return self.records

    # running tallies
    def tally(self, eid: bytes) -> tally_crypto.EncryptedTally:
        """The election's running tally as it stands (counted into in this block or not)."""
        running = self.counting.get(eid)
        if running is not None:
            return running.tally()
        tally = self.get_object(tally_crypto.EncryptedTally, tally_key(eid))
        assert tally is not None, "an election's tally record is written when it is created"
        return tally

    def _running(self, eid: bytes) -> tally_crypto.RunningTally:
        running = self.counting.get(eid)
        if running is None:
            running = self.counting[eid] = tally_crypto.RunningTally(self.tally(eid))
        return running

    def count_ballot(self, eid: bytes, ballot: EncryptedBallot) -> None:
        """A (verified) ballot joins the election's running tally."""
        self._running(eid).add(ballot)
        self.journal.append(Counted(eid, ballot, added=True))

    def uncount_ballot(self, eid: bytes, ballot: EncryptedBallot) -> None:
        """A ballot counted before leaves the election's running tally."""
        self._running(eid).subtract(ballot)
        self.journal.append(Counted(eid, ballot, added=False))

    # typed helpers
    def manifest(self, eid: bytes) -> Manifest:
        manifest = self.manifests.get(eid)
        if manifest is None:
            data = self.get(manifest_key(eid))
            if data is None:
                raise TxError(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
            manifest = _decode_manifest(data)
            self.manifests[eid] = manifest
        return manifest

    def status(self, eid: bytes) -> ElectionStatus:
        status = self.get_object(ElectionStatus, election_key(eid))
        if status is None:
            raise TxError(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
        return status

    def set_status(self, eid: bytes, status: ElectionStatus) -> None:
        self.put_object(election_key(eid), status)

    def open_ids(self) -> tuple[bytes, ...]:
        open_elections = self.get_object(OpenElections, KEY_OPEN)
        return () if open_elections is None else open_elections.ids

    def set_open_ids(self, ids: tuple[bytes, ...]) -> None:
        self.put_object(KEY_OPEN, OpenElections(tuple(sorted(set(ids)))))


@lru_cache(maxsize=256)
def _decode_manifest(data: bytes) -> Manifest:
    """Manifests are immutable (written once, named by their hash): decode each once per
    process, not once per admission check."""
    return decode(Manifest, data)
