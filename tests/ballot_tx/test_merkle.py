"""Merkle tree over transaction hashes (RFC 9162) and block assembly."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.block import (
    EMPTY_ROOT,
    Block,
    InclusionProof,
    MerkleProof,
    check_tx_root,
    leaf_hash,
    make_block,
    merkle_proof,
    merkle_root,
    node_hash,
    tx_hash,
    verify_inclusion,
    verify_merkle_proof,
)
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BlockError, ErrorCode


def items(n: int) -> list[bytes]:
    return [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]


def test_small_trees_by_hand() -> None:
    a, b, c = items(3)
    assert merkle_root([]) == EMPTY_ROOT
    assert merkle_root([a]) == leaf_hash(a)
    assert merkle_root([a, b]) == node_hash(leaf_hash(a), leaf_hash(b))
    # RFC 9162: an odd tree splits at the largest power of two below n, no duplication
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


def test_leaf_and_node_domains_differ() -> None:
    a, b = items(2)
    # a two-leaf root must not equal the leaf hash of the concatenated children
    assert merkle_root([a, b]) != leaf_hash(leaf_hash(a) + leaf_hash(b))


def test_no_duplicate_last_leaf_ambiguity() -> None:
    a, b, c = items(3)
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])


@given(st.integers(1, 70), st.data())
def test_every_proof_verifies_and_binds(n: int, data: st.DataObject) -> None:
    xs = items(n)
    root = merkle_root(xs)
    i = data.draw(st.integers(0, n - 1))
    p = merkle_proof(xs, i)
    assert verify_merkle_proof(xs[i], p, root)
    other = hashlib.sha256(b"not in tree").digest()
    assert not verify_merkle_proof(other, p, root)
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        assert not verify_merkle_proof(xs[j], p, root)
        assert not verify_merkle_proof(xs[i], MerkleProof(j, n, p.path), root)
    # (the tree size is bound by the block header's tx_count, see verify_inclusion)
    if p.path:
        k = data.draw(st.integers(0, len(p.path) - 1))
        bad = list(p.path)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not verify_merkle_proof(xs[i], MerkleProof(i, n, tuple(bad)), root)
        assert not verify_merkle_proof(xs[i], MerkleProof(i, n, p.path[:-1]), root)
    assert not verify_merkle_proof(xs[i], MerkleProof(i, n, (*p.path, root)), root)


def test_block_roundtrip_and_tx_root() -> None:
    txs = [b"tx-one", b"tx-two", b"tx-three"]
    blk = make_block(1, b"\x01" * 32, 1000, b"\x02" * 32, b"\x03" * 32, txs)
    assert decode(Block, encode(blk)) == blk
    check_tx_root(blk)
    assert blk.header.tx_root == merkle_root([tx_hash(t) for t in txs])
    tampered = Block(blk.header, (b"tx-one", b"tx-TWO", b"tx-three"))
    with pytest.raises(BlockError) as e:
        check_tx_root(tampered)
    assert e.value.code == ErrorCode.BLOCK_BAD_TX_ROOT
    dropped = Block(blk.header, blk.txs[:2])
    with pytest.raises(BlockError):
        check_tx_root(dropped)


def test_inclusion_proof_object() -> None:
    txs = [b"a", b"b", b"c", b"d", b"e"]
    blk = make_block(7, b"\x01" * 32, 1000, b"\x02" * 32, b"\x03" * 32, txs)
    hs = blk.tx_hashes()
    p = InclusionProof(blk.header, hs[3], merkle_proof(hs, 3))
    verify_inclusion(decode(InclusionProof, encode(p)))
    with pytest.raises(BlockError) as e:
        verify_inclusion(InclusionProof(blk.header, tx_hash(b"zzz"), p.proof))
    assert e.value.code == ErrorCode.BLOCK_BAD_PROOF
