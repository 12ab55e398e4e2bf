"""Transactions and receipts in the browser (web/src/tx.js, web/src/receipt.js) against Python.

The page signs cast and spoil transactions that the chain must accept, and checks a
receipt (Merkle inclusion + commit certificate against the genesis validators) itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ballot_tx.block import (
    InclusionProof,
    block_hash,
    make_block,
    merkle_proof,
    tx_hash,
    verify_inclusion,
    verify_merkle_proof,
)
from ballot_tx.codec import encode
from ballot_tx.crypto.ballot import verify_ballot, verify_spoiled
from ballot_tx.errors import BallotchainError
from ballot_tx.tx import CastBallot, SpoilBallot, check_signature, decode_tx, sign_tx
from consensus.certificate import CommitCertificate, verify_certificate
from consensus.messages import Commit, VoteSig
from genesis.document import genesis_hash
from tests.ballot_tx.crypto.helpers import KEY, contest, manifest
from tests.ballot_tx.state.helpers import ADMIN, VALIDATORS, make_genesis
from tests.web.jsbridge import run_js

GENESIS = make_genesis()
CHAIN = genesis_hash(GENESIS)
M = manifest((contest("mayor", "single", 3), contest("pledges", "rating", 2)))
SEL = [[0, 0, 1], [40, 90]]


def test_js_cast_and_spoil_transactions_are_accepted_by_python() -> None:
    base = {"op": "cast_tx", "manifest": encode(M).hex(), "key": KEY.hex(), "selections": SEL,
            "voter_seed": "07" * 32, "chain_id": CHAIN.hex(), "expires_ms": 1_800_000_060_000}
    cast, spoil = run_js([base, {**base, "spoil": True}])
    for r in (cast, spoil):
        raw = bytes.fromhex(r["ok"]["tx"])
        tx = decode_tx(raw)
        assert encode(tx) == raw and tx_hash(raw).hex() == r["ok"]["hash"] == tx.hash.hex()
        check_signature(tx, CHAIN)
        assert tx.expires_ms == 1_800_000_060_000
    c = decode_tx(bytes.fromhex(cast["ok"]["tx"]))
    assert isinstance(c.body, CastBallot)
    verify_ballot(M, KEY, c.signer, c.body.ballot)  # credential = the signer's key
    s = decode_tx(bytes.fromhex(spoil["ok"]["tx"]))
    assert isinstance(s.body, SpoilBallot)
    assert verify_spoiled(M, KEY, s.signer, s.body.ballot, s.body.secrets) == tuple(map(tuple, SEL))


def test_js_decodes_python_transactions() -> None:
    txs = [sign_tx(ADMIN, CHAIN, CastBallot(bytes(32), _ballot()), 5)]
    got = run_js([{"op": "decode_tx", "tx": encode(t).hex()} for t in txs])
    for t, r in zip(txs, got, strict=True):
        assert r["ok"] == {"reencoded": encode(t).hex(), "hash": t.hash.hex(), "type": "CastBallot"}


def _ballot() -> Any:
    from ballot_tx.crypto.ballot import encrypt_ballot

    return encrypt_ballot(M, KEY, ADMIN.ed25519_public, ((0, 1, 0), (0, 100)), seed=b"\x05" * 32)[0]


def certify(header_hash: bytes, height: int, signers: list[int], view: int = 0) -> CommitCertificate:
    body = encode(Commit(view, height, header_hash))
    sigs = tuple(VoteSig(i, VALIDATORS[i].sign("pbft/commit", CHAIN, body)) for i in signers)
    return CommitCertificate(height, view, header_hash, sigs)


def py_receipt(code: bytes, proof: InclusionProof, cert: CommitCertificate | None, chain: bytes) -> str:
    try:
        if genesis_hash(GENESIS) != chain:
            return "WEB_WRONG_CHAIN"
        if proof.tx_hash != code:
            return "BLOCK_BAD_PROOF"
        verify_inclusion(proof)
        if cert is None:
            return "CONSENSUS_BAD_CERTIFICATE"
        if cert.height != proof.header.height or cert.block_hash != block_hash(proof.header):
            return "CONSENSUS_BAD_CERTIFICATE"
        verify_certificate(GENESIS, chain, cert)
    except BallotchainError as e:
        return str(e.code)
    return "ok"


def test_receipts_verify_alike_and_every_forgery_fails() -> None:
    txs = [bytes([i]) * (10 + i) for i in range(7)]
    block = make_block(5, b"\x01" * 32, 1_800_000_000_500, VALIDATORS[1].ed25519_public, b"\x02" * 32, txs)
    hashes = block.tx_hashes()
    good_cert = certify(block.hash, 5, [0, 2, 3])
    cases: list[tuple[bytes, InclusionProof, CommitCertificate | None, bytes]] = []
    for i in range(len(txs)):
        p = InclusionProof(block.header, hashes[i], merkle_proof(hashes, i))
        cases.append((hashes[i], p, good_cert, CHAIN))
    p0 = InclusionProof(block.header, hashes[3], merkle_proof(hashes, 3))
    bad_path = replace(p0.proof, path=(b"\x00" * 32, *p0.proof.path[1:]))
    cases += [
        (hashes[2], p0, good_cert, CHAIN),  # proof for another transaction
        (hashes[3], replace(p0, proof=bad_path), good_cert, CHAIN),
        (hashes[3], replace(p0, proof=replace(p0.proof, index=4)), good_cert, CHAIN),
        (hashes[3], replace(p0, proof=replace(p0.proof, size=8)), good_cert, CHAIN),
        (hashes[3], replace(p0, header=replace(block.header, time_ms=1)), good_cert, CHAIN),
        (hashes[3], p0, None, CHAIN),
        (hashes[3], p0, certify(block.hash, 5, [0, 2]), CHAIN),  # 2 < 2f+1 = 3
        (hashes[3], p0, certify(block.hash, 5, [0, 2, 2]), CHAIN),  # one validator twice
        (hashes[3], p0, certify(block.hash, 6, [0, 1, 2]), CHAIN),  # another height
        (hashes[3], p0, certify(b"\x09" * 32, 5, [0, 1, 2]), CHAIN),  # another block
        (hashes[3], p0, certify(block.hash, 5, [0, 1, 2], view=3), CHAIN),  # any view is fine
        (hashes[3], p0, replace(good_cert, view=1), CHAIN),  # signatures were for view 0
        (hashes[3], p0, good_cert, bytes(32)),  # the page pinned another chain
    ]
    reqs = [
        {"op": "verify_receipt", "tracking_code": code.hex(), "genesis": encode(GENESIS).hex(),
         "chain_id": chain.hex(), "proof": encode(p).hex(), "cert": None if c is None else encode(c).hex()}
        for code, p, c, chain in cases
    ]
    got = [r.get("error", "ok") for r in run_js(reqs)]
    want = [py_receipt(*c) for c in cases]
    assert got == want
    assert got[: len(txs)] == ["ok"] * len(txs)
    assert got[len(txs):].count("ok") == 1  # only the other-view certificate is genuine


def test_merkle_paths_agree_for_every_tree_size() -> None:
    reqs, want = [], []
    for n in range(1, 12):
        items = [bytes([n, i]) for i in range(n)]
        block = make_block(1, bytes(32), 0, bytes(32), bytes(32), items)
        hs = block.tx_hashes()
        for i in range(n):
            p = InclusionProof(block.header, hs[i], merkle_proof(hs, i))
            for item in (hs[i], hs[(i + 1) % n] if n > 1 else bytes(32)):
                reqs.append({"op": "merkle", "item": item.hex(), "proof": encode(p).hex(),
                             "root": block.header.tx_root.hex()})
                want.append(verify_merkle_proof(item, p.proof, block.header.tx_root))
    assert [r["ok"] for r in run_js(reqs)] == want
    assert want.count(True) == sum(range(1, 12))


def test_genesis_hash_matches() -> None:
    (r,) = run_js([{"op": "genesis_hash", "genesis": encode(GENESIS).hex()}])
    assert r["ok"] == CHAIN.hex()
