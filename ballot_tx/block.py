"""Blocks: a header that links the chain, the transactions, and a Merkle tree over them.

A block at height h carries the state root *after block h-1* (the state its
transactions are applied to), so a proposer need not execute a block before
proposing it and every block commits to all state before it. Height 1 is the
first block; its ``prev_hash`` is the chain id (the genesis hash) and its
state root is the root of the empty state.

Transactions are kept in the block as their canonical bytes. The Merkle leaf of
a transaction is computed from its hash (``tx_hash``: the tracking code a voter
gets), and a block whose bytes decode is still checked transaction by
transaction, so a bad transaction is named by its index.

The transaction tree follows RFC 9162 (Certificate Transparency v2): leaves and
interior nodes are hashed under different domains (no second-preimage trick
turning a node into a leaf), and an odd tree is split at the largest power of
two below its size rather than duplicating the last leaf (which would let two
different transaction lists share a root, CVE-2012-2459).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import U32, U64, Bytes32, MaxLen, Wire, digest, hash_bytes
from ballot_tx.errors import BlockError, ErrorCode

#: The largest encoded transaction a block may carry.
MAX_TX_BYTES = 1 << 18
#: The most transactions in one block (genesis ``max_block_txs`` may only lower it).
MAX_BLOCK_TXS = 10_000


def tx_hash(tx_bytes: bytes) -> bytes:
    """A transaction's identity and tracking code: SHA-256 under the ``tx`` domain."""
    return hash_bytes("tx", tx_bytes)


@dataclass(frozen=True)
class BlockHeader(Wire):
    """What the commit certificate signs (by its hash): everything but the bodies."""

    KIND = "block-header"

    height: U64
    prev_hash: Bytes32
    time_ms: U64
    proposer: Bytes32  # the proposing validator's Ed25519 public key
    tx_root: Bytes32
    tx_count: U32
    state_root: Bytes32  # state root after applying block height-1


@dataclass(frozen=True)
class Block(Wire):
    KIND = "block"
    MAX_SIZE = 1 << 26

    header: BlockHeader
    txs: Annotated[tuple[Annotated[bytes, MaxLen(MAX_TX_BYTES)], ...], MaxLen(MAX_BLOCK_TXS)]

    @property
    def hash(self) -> bytes:
        return block_hash(self.header)

    @property
    def height(self) -> int:
        return self.header.height

    def tx_hashes(self) -> list[bytes]:
        """The transactions' hashes, computed once per block object (the tx root check,
        ``apply_block`` and the audit's index check all need them)."""
        hashes: tuple[bytes, ...] | None = self.__dict__.get("_tx_hashes")
        if hashes is None:
            hashes = tuple(tx_hash(t) for t in self.txs)
            object.__setattr__(self, "_tx_hashes", hashes)  # a cache, not a field
        return list(hashes)


def block_hash(header: BlockHeader) -> bytes:
    """A block's identity: the hash of its header (which commits to the txs by their root)."""
    return digest(header)


def make_block(
    height: int,
    prev_hash: bytes,
    time_ms: int,
    proposer: bytes,
    state_root: bytes,
    txs: list[bytes] | tuple[bytes, ...],
) -> Block:
    """Assemble a block, computing its transaction root."""
    txs = tuple(txs)
    root = merkle_root([tx_hash(t) for t in txs])
    header = BlockHeader(height, prev_hash, time_ms, proposer, root, len(txs), state_root)
    return Block(header, txs)


def check_tx_root(block: Block) -> None:
    """Raise BLOCK_BAD_TX_ROOT unless the header's root and count match the transactions."""
    h = block.header
    if h.tx_count != len(block.txs) or h.tx_root != merkle_root(block.tx_hashes()):
        raise BlockError(
            ErrorCode.BLOCK_BAD_TX_ROOT,
            f"block {h.height}: transaction root or count does not match its {len(block.txs)} transactions",
        )


# --- Merkle tree (RFC 9162 section 2.1) -------------------------------------------


def leaf_hash(item: bytes) -> bytes:
    return hash_bytes("merkle/leaf", item)


def node_hash(left: bytes, right: bytes) -> bytes:
    return hash_bytes("merkle/node", left + right)


EMPTY_ROOT = hash_bytes("merkle/empty", b"")


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(_root(leaves[:k]), _root(leaves[k:]))


def merkle_root(items: list[bytes]) -> bytes:
    """The Merkle tree hash of a list of items (transaction hashes)."""
    if not items:
        return EMPTY_ROOT
    return _root([leaf_hash(i) for i in items])


@dataclass(frozen=True)
class MerkleProof(Wire):
    """An audit path: the sibling hashes from the leaf up to the root."""

    KIND = "merkle-proof"

    index: U32
    size: U32
    path: Annotated[tuple[Bytes32, ...], MaxLen(64)]


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(m, leaves[:k]) + [_root(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_root(leaves[:k])]


def merkle_proof(items: list[bytes], index: int) -> MerkleProof:
    """The inclusion proof of ``items[index]``."""
    if not 0 <= index < len(items):
        raise ValueError(f"index {index} out of range for {len(items)} items")
    return MerkleProof(index, len(items), tuple(_path(index, [leaf_hash(i) for i in items])))


def verify_merkle_proof(item: bytes, proof: MerkleProof, root: bytes) -> bool:
    """RFC 9162 2.1.3.2: recompute the root from the item and its path; True iff it equals ``root``."""
    if not proof.index < proof.size:
        return False
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(item)
    for p in proof.path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


@dataclass(frozen=True)
class InclusionProof(Wire):
    """What a voter's receipt check needs: the header (certified elsewhere) and the path."""

    KIND = "inclusion-proof"

    header: BlockHeader
    tx_hash: Bytes32
    proof: MerkleProof


def verify_inclusion(p: InclusionProof) -> None:
    """Raise BLOCK_BAD_PROOF unless ``p.tx_hash`` is in the block whose header is given."""
    if p.proof.size != p.header.tx_count or not verify_merkle_proof(
        p.tx_hash, p.proof, p.header.tx_root
    ):
        raise BlockError(
            ErrorCode.BLOCK_BAD_PROOF,
            f"transaction {p.tx_hash.hex()[:16]} is not proven to be in block {p.header.height}",
        )
