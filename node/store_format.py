"""The node database's on-disk format: key layout, record frames, the tip record.

Every value is stored framed as ``check || payload`` with
``check = SHA-256(domain("store") || key || payload)``: a record that was changed
on disk (a flipped byte, a value moved under another key) fails its check and is
reported as ``STORE_CORRUPT`` naming its key, never used.

Keys::

    blk/ u64(height)   canonical Block
    crt/ u64(height)   commit certificate bytes (consensus.certificate), once known
    bhi/ block hash    u64(height)
    txi/ tx hash       u64(height) u32(index)
    st/  state key     state record value (see ballot_tx.state)
    meta/genesis       canonical Genesis this database belongs to
    meta/tip           Tip: height, block hash, time, state root and LtHash digest
    node/ ...          free for the runtime (consensus persistence), ``put_meta``
    pool/ tx hash      canonical tx: admitted, acknowledged, not yet committed
    out/  tx hash      why an acknowledged tx left the pool uncommitted (expired, rejected)

Also how LevelDB's failures map to ``StoreError`` codes (``leveldb_error``). This is
what a record on disk means, apart from ``node.store``'s ``Store``, which opens the
database and reads and writes it: the integrity check, the backup and the audit also
read records by this layout, key by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import plyvel

from ballot_tx.codec import U64, Bytes32, Wire, hash_bytes
from ballot_tx.errors import ErrorCode, StoreError

CHECK_BYTES = 32
P_BLOCK = b"blk/"
P_CERT = b"crt/"
P_BLOCK_HASH = b"bhi/"
P_TX = b"txi/"
P_STATE = b"st/"
K_GENESIS = b"meta/genesis"
K_TIP = b"meta/tip"
P_NODE = b"node/"
P_POOL = b"pool/"
P_OUTCOME = b"out/"


@dataclass(frozen=True)
class Tip(Wire):
    KIND = "store-tip"

    height: U64
    block_hash: Bytes32
    time_ms: U64
    state_root: Bytes32
    lthash: bytes


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def frame(key: bytes, payload: bytes) -> bytes:
    return hash_bytes("store", key + payload) + payload


def unframe(key: bytes, value: bytes) -> bytes:
    """The payload of a stored value, or STORE_CORRUPT naming the key."""
    payload = value[CHECK_BYTES:]
    if len(value) < CHECK_BYTES or hash_bytes("store", key + payload) != value[:CHECK_BYTES]:
        raise StoreError(ErrorCode.STORE_CORRUPT, f"stored record {describe_key(key)} fails its hash check")
    return payload


def describe_key(key: bytes) -> str:
    """A readable name for a database key (for error messages)."""
    for prefix, name in ((P_BLOCK, "block"), (P_CERT, "certificate")):
        if key.startswith(prefix) and len(key) == len(prefix) + 8:
            return f"{name} at height {int.from_bytes(key[len(prefix):], 'big')}"
    for prefix, name in ((P_BLOCK_HASH, "block-hash index"), (P_TX, "tx index"), (P_STATE, "state")):
        if key.startswith(prefix):
            return f"{name} record {key[len(prefix):].hex()}"
    return key.decode("ascii", "backslashreplace")


#: LevelDB reports I/O failures as text ("IO error: <file>: <strerror>"); the strerror
#: decides the code. The file named is often LOCK, so "lock" alone means nothing.
_LEVELDB_ERRORS: tuple[tuple[tuple[str, ...], ErrorCode, str], ...] = (
    (("No space left on device", "Disk quota exceeded", "File too large"), ErrorCode.STORE_DISK_FULL,
     "the disk holding {path} is full; free space, then restart the node"),
    (("Read-only file system", "Permission denied", "Operation not permitted"), ErrorCode.STORE_READ_ONLY,
     "{path} cannot be written (read-only mount or permissions)"),
    (("Resource temporarily unavailable", "already held by process"), ErrorCode.STORE_LOCKED,
     "{path} is in use by another process (a running node?)"),
)


def leveldb_error(path: Path, e: Exception) -> StoreError:
    """The ``StoreError`` (with the right code) for a LevelDB failure on ``path``."""
    text = str(e)
    if isinstance(e, plyvel.CorruptionError):
        return StoreError(ErrorCode.STORE_CORRUPT, f"LevelDB reports corruption in {path}: {text}")
    for needles, code, message in _LEVELDB_ERRORS:
        if any(n in text for n in needles):
            return StoreError(code, f"{message.format(path=path)} ({text})")
    return StoreError(ErrorCode.STORE_IO, f"database {path}: {text}")
