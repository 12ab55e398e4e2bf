"""Snapshots: ``State`` is an immutable overlay of one block's writes on its parent.

A chain of overlays ends in a ``Base`` (a dict in memory, or the node's LevelDB).
Applying never mutates a parent, so a validator can try several proposals for one
height. When the node commits a state into its base, that state and its descendants
stay valid; older snapshots report ``STATE_STALE`` if read. The state root is an
LtHash over all records (``lthash.py``), carried from parent to child, so applying a
block touches only the records its transactions change and the root follows in
O(changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ballot_tx.crypto import decryption
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import ErrorCode, StateError
from ballot_tx.lthash import LtHash
from ballot_tx.manifest import Manifest
from ballot_tx.state.genesis_facts import GenesisFacts, GenesisView
from ballot_tx.state.records import (
    KEY_OPEN,
    ElectionStatus,
    OpenElections,
    VoterRecord,
    decode_record,
    decryption_shares,
    election_key,
    included_tx_key,
    manifest_key,
    result_key,
    tally_key,
    trustee_commitments,
    voter_record_key,
)


class Base(Protocol):
    """Committed records under all overlays; ``height`` is the last block committed into it."""

    @property
    def height(self) -> int: ...

    def get(self, key: bytes) -> bytes | None: ...


class MemoryBase:
    """An in-memory base (tests, audit replay)."""

    def __init__(self, records: dict[bytes, bytes] | None = None, height: int = 0) -> None:
        self.records: dict[bytes, bytes] = {} if records is None else records
        self.height = height

    def get(self, key: bytes) -> bytes | None:
        return self.records.get(key)

    def commit(self, state: State) -> State:
        """Fold ``state``'s overlays into this base; returns the same state without overlays."""
        for layer in reversed(list(iter_layers(state, above=self.height))):
            for key, value in layer.writes.items():
                if value is None:
                    self.records.pop(key, None)
                else:
                    self.records[key] = value
        self.height = state.height
        return state.rebase(self)


class State:
    """An immutable snapshot after ``height`` blocks (read with ``get``). ``chain`` holds
    what the rules read from genesis, shared by every snapshot of the chain."""

    __slots__ = ("chain", "base", "parent", "writes", "lthash", "height", "block_hash", "time_ms")

    def __init__(
        self,
        chain: GenesisFacts,
        base: Base,
        lthash: LtHash,
        height: int,
        block_hash: bytes,
        time_ms: int,
        parent: State | None = None,
        writes: dict[bytes, bytes | None] | None = None,
    ) -> None:
        self.chain = chain
        self.base = base
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {} if writes is None else writes
        self.lthash = lthash
        self.height = height
        self.block_hash = block_hash
        self.time_ms = time_ms

    @staticmethod
    def initial(genesis: GenesisView, base: Base | None = None) -> State:
        """The empty state before block 1."""
        facts = GenesisFacts.of(genesis)
        return State(
            facts, base or MemoryBase(), LtHash(), 0, facts.chain_id, genesis.genesis_time_ms
        )

    @property
    def root(self) -> bytes:
        return self.lthash.root()

    def get(self, key: bytes) -> bytes | None:
        if self.height < self.base.height:
            raise StateError(
                ErrorCode.STATE_STALE,
                f"state at height {self.height} read after height {self.base.height} was committed",
            )
        layer: State | None = self  # the hot path: a plain loop, not iter_layers
        while layer is not None and layer.height > self.base.height:
            if key in layer.writes:
                return layer.writes[key]
            layer = layer.parent
        return self.base.get(key)

    def rebase(self, base: Base) -> State:
        """This snapshot with no overlays over a base that already holds its writes."""
        return State(self.chain, base, self.lthash, self.height, self.block_hash, self.time_ms)

    # typed reads, for the API and the audit
    def election(self, eid: bytes) -> ElectionStatus | None:
        return decode_record(ElectionStatus, self.get(election_key(eid)))

    def manifest(self, eid: bytes) -> Manifest | None:
        return decode_record(Manifest, self.get(manifest_key(eid)))

    def voter(self, eid: bytes, voter_key: bytes) -> VoterRecord | None:
        return decode_record(VoterRecord, self.get(voter_record_key(eid, voter_key)))

    def tally(self, eid: bytes) -> tally_crypto.EncryptedTally | None:
        return decode_record(tally_crypto.EncryptedTally, self.get(tally_key(eid)))

    def result(self, eid: bytes) -> decryption.TallyResult | None:
        return decode_record(decryption.TallyResult, self.get(result_key(eid)))

    def decryption_shares(self, eid: bytes, trustees: int) -> list[decryption.DecryptionShare]:
        """The decryption shares posted so far by trustees 1..``trustees``, in index order."""
        return decryption_shares(self.get, eid, trustees)

    def qualified_commitments(self, eid: bytes) -> list[trustee_crypto.TrusteeCommitment]:
        """The commitments of the election's qualified trustees (after open)."""
        status = self.election(eid)
        return [] if status is None else trustee_commitments(self.get, eid, status.qualified)

    def open_elections(self) -> tuple[bytes, ...]:
        """The ids of the open elections (the ``O`` record the auto-close rule walks)."""
        record = decode_record(OpenElections, self.get(KEY_OPEN))
        return () if record is None else record.ids

    def seen(self, tx_hash: bytes) -> bool:
        """Whether the transaction was included in a block (the replay guard)."""
        return self.get(included_tx_key(tx_hash)) is not None


def iter_layers(state: State, above: int | None = None) -> Iterator[State]:
    """``state`` and its parents, newest first, down to (not including) height ``above``
    (by default the height of the base they are overlaid on): the uncommitted layers."""
    floor = state.base.height if above is None else above
    layer: State | None = state
    while layer is not None and layer.height > floor:
        yield layer
        layer = layer.parent
