"""Backups of a node's database: a consistent snapshot taken without stopping the node.

A backup is one file::

    MAGIC
    msgpack [version, chain_id, chain name, height, tip block hash, created_ms]
    msgpack [key, stored value]          ... one per record, in key order
    msgpack ["end", record count, SHA-256 of every byte before this trailer]

The records are read from a LevelDB snapshot (``plyvel`` ``DB.snapshot()``), so
the file is the database as of one instant even while blocks keep committing.
Values are copied as stored, with their per-record hash frame (``node.store_format``),
so restore checks every record as well as the trailer's hash of the whole file.

``node/`` records (what this validator's consensus signed, ``SAFETY_KEY``) are
left out: they belong to one key at one moment, and a record older than what
the validator signed since would be worse than none. So a backup of any node,
observers included, can seed any other node of the same chain.

A running node serves its backup over HTTP to its own host only
(``node.backup_routes``); ``ballotchain node backup`` uses it when the database is
locked by the running node, and reads the database directly when the node is stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import plyvel

from ballot_tx.codec import decode
from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from genesis.document import Genesis, genesis_hash
from node.store import Store
from node.store_format import K_GENESIS, K_TIP, P_NODE, Tip, unframe

MAGIC = b"BALLOTCHAIN-BACKUP\n"
VERSION = 1
CHUNK_RECORDS = 2000
MAX_RECORD = 64 << 20


class BackupError(BallotchainError):
    """A backup file that cannot be restored, or a home that cannot take one."""


@dataclass(frozen=True)
class Header:
    chain_id: bytes
    chain: str
    height: int
    tip_hash: bytes
    created_ms: int


@dataclass(frozen=True)
class Summary:
    header: Header
    records: int
    sha256: str  # of the whole file
    size: int


def _tip_of(snap: Any) -> Tip:
    raw = snap.get(K_TIP)
    if raw is None:
        raise StoreError(ErrorCode.STORE_MISSING, "the database has no tip record")
    tip: Tip = decode(Tip, unframe(K_TIP, raw))
    return tip


def backup_chunks(db: plyvel.DB, genesis: Genesis) -> Iterator[bytes]:
    """The backup file's bytes in chunks, from one snapshot of ``db``.

    Each ``next()`` does a bounded amount of work (``CHUNK_RECORDS`` records), so a
    caller can run it step by step in a worker thread while the node keeps going.
    """
    snap = db.snapshot()
    tip = _tip_of(snap)
    digest = hashlib.sha256()
    head = MAGIC + msgpack.packb(
        [VERSION, genesis_hash(genesis), genesis.chain_id, tip.height, tip.block_hash,
         int(time.time() * 1000)], use_bin_type=True)
    digest.update(head)
    yield head
    count = 0
    buf: list[bytes] = []
    with snap.iterator() as it:
        for k, v in it:
            if k.startswith(P_NODE):
                continue
            rec = msgpack.packb([k, v], use_bin_type=True)
            buf.append(rec)
            count += 1
            if len(buf) >= CHUNK_RECORDS:
                chunk = b"".join(buf)
                digest.update(chunk)
                buf.clear()
                yield chunk
    chunk = b"".join(buf)
    digest.update(chunk)
    yield chunk + msgpack.packb(["end", count, digest.digest()], use_bin_type=True)


def write_backup_offline(data_dir: Path, genesis: Genesis, out: Path) -> Summary:
    """Back up the database of a stopped node (STORE_LOCKED if it is running)."""
    with Store(data_dir, genesis, create=False) as store:
        with _new_file(out) as f:
            for chunk in backup_chunks(store.db, genesis):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    return inspect(out)


def _new_file(out: Path) -> BinaryIO:
    if out.exists():
        raise BackupError(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite it")
    return open(out, "xb")  # noqa: SIM115 - returned to a with block


# --- reading ------------------------------------------------------------------------------


def _corrupt(why: str) -> BackupError:
    return BackupError(ErrorCode.BACKUP_CORRUPT, f"the backup is damaged: {why}")


class _Reader:
    """Streams a backup file, hashing what it reads, and checks its framing."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.digest = hashlib.sha256()
        self.whole = hashlib.sha256()
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise _corrupt("not a Ballotchain backup (bad magic)")
        self.digest.update(magic)
        self.whole.update(magic)
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_RECORD * 2,
                                         max_bin_len=MAX_RECORD, max_str_len=1024)

    def objects(self) -> Iterator[tuple[Any, int]]:
        """Each msgpack object with the number of bytes it took."""
        while True:
            data = self.f.read(1 << 20)
            self.whole.update(data)
            if not data:
                break
            self.unpacker.feed(data)
            while True:
                before = self.unpacker.tell()
                try:
                    obj = next(self.unpacker)
                except StopIteration:
                    break
                except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
                    raise _corrupt(f"unreadable record ({type(e).__name__})") from None
                yield obj, self.unpacker.tell() - before
        # leftover bytes that never formed an object
        try:
            next(self.unpacker)
        except StopIteration:
            pass
        except Exception:
            raise _corrupt("truncated") from None


def read_backup(path: Path) -> Iterator[tuple[str, Any]]:
    """("header", Header), then ("record", (key, value)) ..., then ("end", (count, sha256 hex)).

    Every value's store frame, the record count and the trailer hash are checked;
    anything off is BACKUP_CORRUPT. The digest is only final after "end".
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise BackupError(ErrorCode.IO_ERROR, f"cannot read {path}: {e.strerror}") from None
    with f:
        reader = _Reader(f)
        # Re-pack each object to hash exactly the bytes read (msgpack is canonical for these).
        header: Header | None = None
        count = 0
        for obj, _n in reader.objects():
            if header is None:
                if (not isinstance(obj, list) or len(obj) != 6 or obj[0] != VERSION
                        or not isinstance(obj[1], bytes) or len(obj[1]) != 32):
                    raise _corrupt("bad header")
                header = Header(obj[1], str(obj[2]), int(obj[3]), bytes(obj[4]), int(obj[5]))
                reader.digest.update(msgpack.packb(obj, use_bin_type=True))
                yield "header", header
                continue
            if isinstance(obj, list) and len(obj) == 3 and obj[0] == "end":
                if obj[1] != count:
                    raise _corrupt(f"the trailer counts {obj[1]} records, the file holds {count}")
                if obj[2] != reader.digest.digest():
                    raise _corrupt("the trailer's hash does not match the contents")
                if f.read() or reader.unpacker.tell() != f.tell() - len(MAGIC):
                    raise _corrupt("bytes follow the trailer")
                yield "end", (count, reader.whole.hexdigest())
                return
            if (not isinstance(obj, list) or len(obj) != 2 or not isinstance(obj[0], bytes)
                    or not isinstance(obj[1], bytes)):
                raise _corrupt(f"record {count} is not a key/value pair")
            key, value = obj
            if key.startswith(P_NODE):
                raise _corrupt(f"record {count} is a node's consensus record, which no backup holds")
            reader.digest.update(msgpack.packb(obj, use_bin_type=True))
            try:
                unframe(key, value)
            except StoreError as e:
                raise _corrupt(e.message) from None
            count += 1
            yield "record", (key, value)
        raise _corrupt("truncated (no trailer)" if header is not None else "empty")


def inspect(path: Path) -> Summary:
    """Check a backup file completely; return what it holds and its SHA-256."""
    header: Header | None = None
    for kind, v in read_backup(path):
        if kind == "header":
            header = v
        elif kind == "end":
            assert header is not None
            return Summary(header, v[0], v[1], path.stat().st_size)
    raise _corrupt("truncated")


def restore(path: Path, data_dir: Path, genesis: Genesis) -> Summary:
    """Restore ``path`` into ``data_dir`` (which must not hold a database) for ``genesis``.

    Written into a sibling directory first and renamed into place only once the
    whole file checked out and the restored database opens on this genesis, so a
    damaged backup leaves nothing behind.
    """
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(ErrorCode.BACKUP_TARGET_NOT_EMPTY,
                          f"{data_dir} already holds data; move it away first (never delete a "
                          "validator's data you may need)")
    tmp = data_dir.with_name(data_dir.name + ".restoring")
    if tmp.exists():
        shutil.rmtree(tmp)
    want = genesis_hash(genesis)
    header: Header | None = None
    end: tuple[int, str] = (0, "")
    try:
        db = plyvel.DB(str(tmp), create_if_missing=True, error_if_exists=True)
        try:
            batch = db.write_batch()
            pending = 0
            for kind, v in read_backup(path):
                if kind == "header":
                    header = v
                    if v.chain_id != want:
                        raise BackupError(
                            ErrorCode.BACKUP_WRONG_CHAIN,
                            f"the backup is of chain {v.chain!r} ({v.chain_id.hex()[:16]}), this "
                            f"home's genesis is {genesis.chain_id!r} ({want.hex()[:16]})")
                elif kind == "record":
                    key, value = v
                    if key == K_GENESIS and genesis_hash(decode(Genesis, unframe(key, value))) != want:
                        raise BackupError(ErrorCode.BACKUP_WRONG_CHAIN,
                                          "the backup's database belongs to another genesis")
                    batch.put(key, value)
                    pending += 1
                    if pending >= CHUNK_RECORDS:
                        batch.write()
                        batch = db.write_batch()
                        pending = 0
                else:
                    batch.write()
                    end = v
            db.close()
        finally:
            if not db.closed:
                db.close()
        with Store(tmp, genesis, create=False) as st:
            assert header is not None
            if st.height != header.height or st.tip.block_hash != header.tip_hash:
                raise _corrupt("the restored tip differs from the backup's header")
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(tmp, data_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    assert header is not None
    return Summary(header, end[0], end[1], path.stat().st_size)
