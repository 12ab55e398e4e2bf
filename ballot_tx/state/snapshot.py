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

from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import (
    ErrorCode,
    StateError,
)
from ballot_tx.lthash import LtHash
from ballot_tx.manifest import (
    Manifest,
)
from ballot_tx.state.genesis_facts import Chain, GenesisView
from ballot_tx.state.records import ElectionStatus, VoterRecord, _commitments, _decode_opt, _i, _k


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
        chain: list[State] = []
        s: State | None = state
        while s is not None and s.height > self.height:
            chain.append(s)
            s = s.parent
        for layer in reversed(chain):
            for k, v in layer.writes.items():
                if v is None:
                    self.records.pop(k, None)
                else:
                    self.records[k] = v
        self.height = state.height
        return state.rebase(self)


class State:
    """An immutable snapshot after ``height`` blocks (read with ``get``)."""

    __slots__ = ("chain", "base", "parent", "writes", "lthash", "height", "block_hash", "time_ms")

    def __init__(
        self,
        chain: Chain,
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
        chain = Chain.of(genesis)
        return State(chain, base or MemoryBase(), LtHash(), 0, chain.chain_id, genesis.genesis_time_ms)

    @property
    def root(self) -> bytes:
        return self.lthash.root()

    def get(self, key: bytes) -> bytes | None:
        if self.height < self.base.height:
            raise StateError(
                ErrorCode.STATE_STALE,
                f"state at height {self.height} read after height {self.base.height} was committed",
            )
        s: State | None = self
        while s is not None and s.height > self.base.height:
            if key in s.writes:
                return s.writes[key]
            s = s.parent
        return self.base.get(key)

    def rebase(self, base: Base) -> State:
        """This snapshot with no overlays over a base that already holds its writes."""
        return State(self.chain, base, self.lthash, self.height, self.block_hash, self.time_ms)

    # typed reads, for the API and the audit
    def election(self, eid: bytes) -> ElectionStatus | None:
        return _decode_opt(ElectionStatus, self.get(_k(b"E", eid)))

    def manifest(self, eid: bytes) -> Manifest | None:
        return _decode_opt(Manifest, self.get(_k(b"M", eid)))

    def voter(self, eid: bytes, voter_key: bytes) -> VoterRecord | None:
        return _decode_opt(VoterRecord, self.get(_k(b"V", eid, voter_key)))

    def tally(self, eid: bytes) -> tally_crypto.EncryptedTally | None:
        return _decode_opt(tally_crypto.EncryptedTally, self.get(_k(b"T", eid)))

    def result(self, eid: bytes) -> tally_crypto.TallyResult | None:
        return _decode_opt(tally_crypto.TallyResult, self.get(_k(b"R", eid)))

    def decryption_shares(self, eid: bytes, n: int) -> list[tally_crypto.DecryptionShare]:
        out = []
        for i in range(1, n + 1):
            s = _decode_opt(tally_crypto.DecryptionShare, self.get(_k(b"D", eid, _i(i))))
            if s is not None:
                out.append(s)
        return out

    def qualified_commitments(self, eid: bytes) -> list[trustee_crypto.TrusteeCommitment]:
        """The commitments of the election's qualified trustees (after open)."""
        st = self.election(eid)
        return [] if st is None else _commitments(self.get, eid, st.qualified)

    def seen(self, h: bytes) -> bool:
        return self.get(_k(b"X", h)) is not None


def iter_layers(state: State) -> Iterator[State]:
    s: State | None = state
    while s is not None and s.height > state.base.height:
        yield s
        s = s.parent
