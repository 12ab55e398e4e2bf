"""Integrity of a node's database: checks at start and on demand, and the repair.

A flipped byte must never be voted on. Every stored value carries a hash frame
(``node.store_format``) and LevelDB keeps a CRC per table block; this module reads them
on purpose instead of waiting for a client to stumble on the damage:

* ``quick_check`` (at every start, before consensus runs): the tip record, the
  tip's block and certificate, the consensus safety record, and a random sample
  of blocks, certificates and index and state records.
* ``full_check`` (``ballotchain node check --home H --full``, and in the
  background of every running node): every record, with LevelDB's block
  checksums verified.

Each problem found is logged on its own line with ``code=STORE_CORRUPT`` and
the record it concerns; a validator that finds one stops voting (``Node``).

The repair is ``resync``: the damaged database is moved aside (kept for
forensics), a new one is created from genesis, and the **consensus safety
record** and the acknowledged pending transactions are carried over before the
node starts and re-fetches the chain from its peers. Wiping the data directory
instead would also delete the safety record, and a validator without it could
sign a message conflicting with one it signed before the damage.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import plyvel

from ballot_tx.block import Block
from ballot_tx.codec import decode
from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from consensus.events import SafetyRecord
from genesis.document import Genesis
from node import logs
from node.store import Store
from node.store_format import (
    P_BLOCK,
    P_BLOCK_HASH,
    P_CERT,
    P_NODE,
    P_STATE,
    P_TX,
    describe_key,
    leveldb_error,
    unframe,
)

log = logs.get("integrity")

SAFETY_KEY = b"pbft/safety"  # the consensus driver's key (node.driver.SAFETY_KEY) under P_NODE
SAMPLE = 64


@dataclass(frozen=True)
class Problem:
    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.reason}"


def _check(key: bytes, value: bytes) -> Problem | None:
    try:
        payload = unframe(key, value)
        if key.startswith(P_BLOCK) and len(key) == len(P_BLOCK) + 8:
            h = int.from_bytes(key[len(P_BLOCK):], "big")
            block = decode(Block, payload)
            if block.height != h:
                return Problem(describe_key(key), f"holds block {block.height}")
        elif key == P_NODE + SAFETY_KEY:
            decode(SafetyRecord, payload)
    except BallotchainError as e:
        return Problem(describe_key(key), e.message)
    return None


def quick_check(store: Store, sample: int = SAMPLE, rng: random.Random | None = None) -> list[Problem]:
    """The tip, its block and certificate, the safety record and a random sample."""
    rng = rng or random.Random()
    problems: list[Problem] = []
    db = store.db

    def look(key: bytes) -> None:
        try:
            v = db.get(key, verify_checksums=True)
        except plyvel.Error as e:
            problems.append(Problem(describe_key(key), leveldb_error(store.path, e).message))
            return
        if v is not None:
            p = _check(key, v)
            if p is not None:
                problems.append(p)
        elif key.startswith((P_BLOCK, P_CERT)):
            problems.append(Problem(describe_key(key), "missing"))

    h = store.height
    if h:
        look(P_BLOCK + h.to_bytes(8, "big"))
        look(P_CERT + h.to_bytes(8, "big"))
        try:
            if store.block(h).hash != store.tip.block_hash:
                problems.append(Problem("tip", "the tip block's hash differs from the tip record"))
        except StoreError:
            pass  # reported by look()
    look(P_NODE + SAFETY_KEY)
    for height in rng.sample(range(1, h + 1), min(sample, h)) if h else []:
        look(P_BLOCK + height.to_bytes(8, "big"))
        look(P_CERT + height.to_bytes(8, "big"))
    for prefix in (P_STATE, P_TX, P_BLOCK_HASH):
        problems += _sample_prefix(store, prefix, sample // 4, rng)
    return problems


def _sample_prefix(store: Store, prefix: bytes, n: int, rng: random.Random) -> list[Problem]:
    """Check the records following ``n`` random points of a hashed key space."""
    out: list[Problem] = []
    for _ in range(n):
        start = prefix + rng.randbytes(8)
        try:
            stop = prefix[:-1] + bytes([prefix[-1] + 1])
            it = store.db.iterator(start=start, stop=stop, verify_checksums=True)
            for k, v in it:
                p = _check(k, v)
                if p is not None:
                    out.append(p)
                break
        except plyvel.Error as e:
            out.append(Problem(f"{prefix.decode()} records", leveldb_error(store.path, e).message))
    return out


def iter_problems(store: Store, pause: Callable[[], None] | None = None) -> Iterator[Problem]:
    """Every record of the database checked (frames, block heights, LevelDB checksums).

    ``pause`` is called every few hundred records (the background check yields there).
    """
    n = 0
    try:
        for k, v in store.db.iterator(verify_checksums=True, fill_cache=False):
            p = _check(k, v)
            if p is not None:
                yield p
            n += 1
            if pause is not None and n % 256 == 0:
                pause()
    except plyvel.Error as e:
        yield Problem("table data", leveldb_error(store.path, e).message)
    h = store.height
    for height in range(1, h + 1):
        for prefix in (P_BLOCK, P_CERT):
            key = prefix + height.to_bytes(8, "big")
            try:
                present = store.db.get(key) is not None
            except plyvel.Error as e:
                yield Problem(describe_key(key), leveldb_error(store.path, e).message)
                continue
            if not present:
                yield Problem(describe_key(key), "missing")


def full_check(store: Store) -> list[Problem]:
    return list(iter_problems(store))


def log_problems(problems: list[Problem], where: str) -> None:
    for p in problems:
        log.error("store corruption found", check=where, record=p.record, reason=p.reason,
                  code=str(ErrorCode.STORE_CORRUPT))


# --- repair -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resync:
    moved_to: Path
    safety_record: bool
    pending_kept: int


def resync(data_dir: Path, genesis: Genesis, now: Callable[[], float] = time.time) -> Resync:
    """Replace a damaged database by an empty one, keeping the safety record and the pool.

    The node must be stopped (the database lock says so). If the safety record
    itself cannot be read intact, nothing is changed: a validator that lost it
    must not vote again before its operator has decided (see docs/operations.md).
    """
    old = Store(data_dir, create=False, max_open_files=64)
    try:
        raw = old.db.get(P_NODE + SAFETY_KEY)
        record: bytes | None = None
        if raw is not None:
            p = _check(P_NODE + SAFETY_KEY, raw)
            if p is not None:
                raise StoreError(
                    ErrorCode.STORE_CORRUPT,
                    f"the consensus safety record itself is damaged ({p.reason}); not resyncing",
                )
            record = unframe(P_NODE + SAFETY_KEY, raw)
        pending: list[tuple[bytes, bytes]] = []
        try:
            pending = [(h, r) for h, r in old.pool_items() if r is not None]
        except StoreError:
            pass  # acknowledged transactions are also held by the other validators
    finally:
        old.close()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now()))
    moved = data_dir.with_name(f"{data_dir.name}.damaged-{stamp}")
    data_dir.rename(moved)
    new = Store(data_dir, genesis)
    try:
        if record is not None:
            new.put_meta(SAFETY_KEY, record, sync=True)
        for h, r in pending:
            new.pool_put(h, r)
    finally:
        new.close()
    log.info("database replaced; the chain will be fetched from peers", moved_to=str(moved),
             safety_record=record is not None, pending=len(pending))
    return Resync(moved, record is not None, len(pending))
