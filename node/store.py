"""The node database: blocks, certificates, transaction index and state in one LevelDB.

Records are laid out and framed as ``node.store_format`` describes (a record changed
on disk is reported as ``STORE_CORRUPT`` naming its key, never used).

A block is committed with its certificate, index entries, state writes and the
new tip in ONE WriteBatch written with ``sync=True``: after a crash the
database holds either the old tip and state or the new ones, never a mix.
Reopening reads the tip, so the state root is the same as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel

from ballot_tx.block import Block
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from ballot_tx.lthash import DIGEST_BYTES, LtHash
from ballot_tx.state.snapshot import State, iter_layers
from genesis.document import Genesis, genesis_hash
from node.store_format import (
    K_GENESIS,
    K_TIP,
    P_BLOCK,
    P_BLOCK_HASH,
    P_CERT,
    P_NODE,
    P_OUTCOME,
    P_POOL,
    P_STATE,
    P_TX,
    Tip,
    _u64,
    describe_key,
    frame,
    leveldb_error,
    unframe,
)


@contextmanager
def _io(path: Path) -> Iterator[None]:
    try:
        yield
    except plyvel.Error as e:
        raise leveldb_error(path, e) from None


#: records one committed state keeps once read (a few MiB at most: records are small)
BASE_READS_KEPT = 50_000


@dataclass(frozen=True)
class StagedCommit:
    """One block's batch, gathered on the event loop and written on the disk thread."""

    tip: Tip
    state: State
    puts: list[tuple[bytes, bytes | None]]  # (key, framed value) in write order; None deletes


class StoreBase:
    """The committed state in the database, read by ``ballot_tx.state`` snapshots.

    Reads go through a LevelDB snapshot taken when this base was made (at a commit, after
    its write): the next block's batch, written on the disk thread while the loop goes
    on (``node.disk_thread``), is not seen by the state of the tip before it, so whatever
    checks transactions meanwhile (admission, the pool's sweep) sees one consistent
    state. ``height`` is the store's tip: a state read after a later commit is refused
    as stale (``State.get``)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._snapshot = store.db.snapshot()
        # What this snapshot holds never changes, so a record read once is kept: a pending
        # ballot's records are read at admission, by the pool's sweep, when the block is
        # built and when it is validated, all against the same tip. Bounded; dropped with
        # the base at the next commit.
        self._read: dict[bytes, bytes | None] = {}

    @property
    def height(self) -> int:
        return self._store.height

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._read[key]
        except KeyError:
            pass
        value = self._store._get(P_STATE + key, self._snapshot)
        if len(self._read) < BASE_READS_KEPT:
            self._read[key] = value
        return value


#: LevelDB's filter policy for the tables this node writes (see ``Store``).
BLOOM_BITS_PER_KEY = 10


class Store:
    """One node's LevelDB. Not thread-safe: the runtime owns it from one task."""

    def __init__(self, path: Path, genesis: Genesis | None = None, create: bool = True,
                 max_open_files: int = 1000) -> None:
        """Open (or with ``create``, make) the database at ``path``.

        With ``genesis``, a new database is bound to it and an existing one must
        belong to it (STORE_WRONG_CHAIN otherwise). Without, it must exist.
        """
        path = Path(path)
        if not create and not (path / "CURRENT").exists():
            raise StoreError(ErrorCode.STORE_NOT_FOUND, f"no Ballotchain database in {path}")
        if create and genesis is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Bloom filters (10 bits a key, ~1 % false positives): most reads of a ballot's
            # checks are of keys that do not exist (included, spoiled), and a miss would
            # otherwise read a block of every level; tables written before have none and
            # are read as before (no false negatives either way).
            self.db = plyvel.DB(str(path), create_if_missing=create and genesis is not None,
                                max_open_files=max_open_files, bloom_filter_bits=BLOOM_BITS_PER_KEY)
        except plyvel.Error as e:
            err = leveldb_error(path, e)
            if err.code == ErrorCode.STORE_IO and "does not exist" in str(e):
                err = StoreError(ErrorCode.STORE_NOT_FOUND, f"no Ballotchain database in {path}")
            raise err from None
        self.path = path
        #: Told of every corruption met on a read (the runtime stops voting on it).
        self.on_corrupt: Callable[[StoreError], None] | None = None
        stored = self._get(K_GENESIS)
        if stored is None:
            if genesis is None:
                self.db.close()
                raise StoreError(ErrorCode.STORE_NOT_FOUND, f"{path} holds no Ballotchain chain")
            g = genesis
            tip = Tip(0, genesis_hash(g), g.genesis_time_ms, LtHash().root(), LtHash().packed())
            with _io(path), self.db.write_batch(sync=True) as wb:
                wb.put(K_GENESIS, frame(K_GENESIS, encode(g)))
                wb.put(K_TIP, frame(K_TIP, encode(tip)))
        else:
            g = self._decode(Genesis, K_GENESIS, stored)
            if genesis is not None and genesis_hash(genesis) != genesis_hash(g):
                self.db.close()
                raise StoreError(
                    ErrorCode.STORE_WRONG_CHAIN,
                    f"{path} belongs to chain {genesis_hash(g).hex()[:16]}, not {genesis_hash(genesis).hex()[:16]}",
                )
        self.genesis = g
        self.chain_id = genesis_hash(g)
        self.tip = self._read_tip()

    # --- low level -----------------------------------------------------------

    def _corrupt(self, err: StoreError) -> StoreError:
        if err.code == ErrorCode.STORE_CORRUPT and self.on_corrupt is not None:
            self.on_corrupt(err)
        return err

    @contextmanager
    def _io(self) -> Iterator[None]:
        try:
            yield
        except plyvel.Error as e:
            raise self._corrupt(leveldb_error(self.path, e)) from None

    def _get(self, key: bytes, source: Any = None) -> bytes | None:
        """``key``'s checked payload, from the database or a snapshot of it (``source``).
        (``_io`` written out: every state read of every check comes here, and a
        ``contextmanager`` costs more than the read itself.)"""
        try:
            v = (self.db if source is None else source).get(key)
        except plyvel.Error as e:
            raise self._corrupt(leveldb_error(self.path, e)) from None
        if v is None:
            return None
        try:
            return unframe(key, v)
        except StoreError as e:
            raise self._corrupt(e) from None

    def _decode(self, cls: type[Any], key: bytes, payload: bytes) -> Any:
        try:
            return decode(cls, payload)
        except BallotchainError:
            raise self._corrupt(StoreError(
                ErrorCode.STORE_CORRUPT, f"stored record {describe_key(key)} does not decode")) from None

    def _read_tip(self) -> Tip:
        data = self._get(K_TIP)
        if data is None:
            raise StoreError(ErrorCode.STORE_MISSING, f"{self.path}: the chain tip record is missing")
        tip: Tip = self._decode(Tip, K_TIP, data)
        if len(tip.lthash) != DIGEST_BYTES or LtHash(tip.lthash).root() != tip.state_root:
            raise StoreError(ErrorCode.STORE_CORRUPT, "the chain tip's state digest does not match its root")
        return tip

    def close(self) -> None:
        if not self.db.closed:
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reads -----------------------------------------------------------------

    @property
    def height(self) -> int:
        return self.tip.height

    def state(self) -> State:
        """The committed state as a snapshot to apply the next block on."""
        t = self.tip
        st = State.initial(self.genesis, StoreBase(self))
        return State(st.chain, st.base, LtHash(t.lthash), t.height, t.block_hash, t.time_ms)

    def get_block(self, height: int) -> Block | None:
        key = P_BLOCK + _u64(height)
        data = self._get(key)
        if data is None:
            return None
        block: Block = self._decode(Block, key, data)
        if block.height != height:
            raise self._corrupt(StoreError(
                ErrorCode.STORE_CORRUPT, f"block stored at height {height} says height {block.height}"))
        return block

    def block(self, height: int) -> Block:
        b = self.get_block(height)
        if b is None:
            raise StoreError(ErrorCode.STORE_MISSING, f"block {height} is missing (tip is {self.height})")
        return b

    def get_certificate(self, height: int) -> bytes | None:
        return self._get(P_CERT + _u64(height))

    def height_of(self, block_hash: bytes) -> int | None:
        v = self._get(P_BLOCK_HASH + block_hash)
        return None if v is None else int.from_bytes(v, "big")

    def find_tx(self, h: bytes) -> tuple[int, int] | None:
        """(height, index) of an included transaction."""
        v = self._get(P_TX + h)
        if v is None:
            return None
        if len(v) != 12:
            raise self._corrupt(StoreError(
                ErrorCode.STORE_CORRUPT, f"tx index record {h.hex()} has the wrong length"))
        return int.from_bytes(v[:8], "big"), int.from_bytes(v[8:], "big")

    def get_tx(self, h: bytes) -> tuple[bytes, int, int] | None:
        """(tx bytes, height, index) of an included transaction, checked against its block."""
        where = self.find_tx(h)
        if where is None:
            return None
        height, index = where
        block = self.block(height)
        if index >= len(block.txs) or block.tx_hashes()[index] != h:
            raise self._corrupt(StoreError(
                ErrorCode.STORE_CORRUPT, f"tx index for {h.hex()[:16]} points at the wrong place"))
        return block.txs[index], height, index

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every committed state record (key without prefix, value), each checked."""
        with self._io():
            for k, v in self.db.iterator(prefix=P_STATE):
                try:
                    yield k[len(P_STATE) :], unframe(k, v)
                except StoreError as e:
                    raise self._corrupt(e) from None

    def blocks(self, start: int = 1) -> Iterator[tuple[Block, bytes | None]]:
        for h in range(start, self.height + 1):
            yield self.block(h), self.get_certificate(h)

    def get_meta(self, name: bytes) -> bytes | None:
        return self._get(P_NODE + name)

    def put_meta(self, name: bytes, value: bytes, sync: bool = True) -> None:
        """Persist runtime data (e.g. what consensus signed) before acting on it."""
        key = P_NODE + name
        with self._io():
            self.db.put(key, frame(key, value), sync=sync)

    # --- the durable mempool ---------------------------------------------------------

    def pool_put(self, tx_hash: bytes, raw: bytes) -> None:
        """Keep an acknowledged transaction across a crash of the process (not synced:
        LevelDB hands every write to the OS, so only a power loss can drop it)."""
        key = P_POOL + tx_hash
        with self._io():
            self.db.put(key, frame(key, raw), sync=False)

    def pool_delete(self, hashes: list[bytes]) -> None:
        if not hashes:
            return
        with self._io(), self.db.write_batch(sync=False) as wb:
            for h in hashes:
                wb.delete(P_POOL + h)

    def put_outcome(self, tx_hash: bytes, outcome: bytes) -> None:
        """Remember (across restarts) why an acknowledged transaction will never commit."""
        key = P_OUTCOME + tx_hash
        with self._io():
            self.db.put(key, frame(key, outcome), sync=False)

    def get_outcome(self, tx_hash: bytes) -> bytes | None:
        return self._get(P_OUTCOME + tx_hash)

    def pool_items(self) -> Iterator[tuple[bytes, bytes | None]]:
        """(hash, raw or None if the record is damaged) of every kept transaction."""
        with self._io():
            for k, v in self.db.iterator(prefix=P_POOL):
                try:
                    yield k[len(P_POOL):], unframe(k, v)
                except StoreError:
                    yield k[len(P_POOL):], None

    # --- writes ------------------------------------------------------------------

    def commit(self, block: Block, state: State, certificate: bytes | None = None) -> State:
        """Persist ``block`` and the state after it in one synced batch; returns the
        state rebased on the database (the snapshot to build the next block on)."""
        staged = self.stage_commit(block, state, certificate)
        self.write_commit(staged)
        return self.finish_commit(staged)

    def stage_commit(self, block: Block, state: State, certificate: bytes | None = None) -> StagedCommit:
        """Check that ``block`` extends the tip and gather its one batch (no I/O yet):
        block, certificate, hash and transaction indexes, state writes, the new tip."""
        if block.height != self.height + 1 or state.height != block.height:
            raise StoreError(
                ErrorCode.STORE_OUT_OF_ORDER,
                f"cannot commit block {block.height} on tip {self.height}",
            )
        if state.block_hash != block.hash:
            raise StoreError(ErrorCode.STORE_OUT_OF_ORDER, "the state was not computed from this block")
        layers = list(iter_layers(state))
        if len(layers) != 1 or layers[0].parent is None or layers[0].parent.height != self.height:
            raise StoreError(ErrorCode.STORE_OUT_OF_ORDER, "the state does not extend the committed tip")
        h = _u64(block.height)
        bh = block.hash
        tip = Tip(block.height, bh, block.header.time_ms, state.root, state.lthash.packed())
        puts: list[tuple[bytes, bytes | None]] = [(P_BLOCK + h, encode(block))]
        if certificate is not None:
            puts.append((P_CERT + h, certificate))
        puts.append((P_BLOCK_HASH + bh, h))
        puts.extend((P_TX + th, h + i.to_bytes(4, "big")) for i, th in enumerate(block.tx_hashes()))
        puts.extend((P_STATE + k, v) for k, v in state.writes.items())
        puts.append((K_TIP, encode(tip)))
        framed = [(k, None if v is None else frame(k, v)) for k, v in puts]
        return StagedCommit(tip, state, framed)

    def write_commit(self, staged: StagedCommit) -> None:
        """The synced write of a staged batch. Touches nothing in memory, so the node runs
        it on its disk thread (plyvel releases the GIL): the event loop goes on serving
        while the disk syncs. Nothing is acknowledged before it returns."""
        with self._io(), self.db.write_batch(sync=True) as wb:
            for key, value in staged.puts:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)

    def finish_commit(self, staged: StagedCommit) -> State:
        """After ``write_commit``: the new tip, and the state rebased on the database."""
        if staged.tip.height != self.height + 1:
            raise StoreError(ErrorCode.STORE_OUT_OF_ORDER, "a staged commit finished out of order")
        self.tip = staged.tip
        return staged.state.rebase(StoreBase(self))

    def put_certificate(self, height: int, certificate: bytes) -> None:
        """Store a certificate that arrived after its block was committed."""
        if not 1 <= height <= self.height:
            raise StoreError(ErrorCode.STORE_MISSING, f"no block {height} to attach a certificate to")
        key = P_CERT + _u64(height)
        with self._io():
            self.db.put(key, frame(key, certificate), sync=True)
