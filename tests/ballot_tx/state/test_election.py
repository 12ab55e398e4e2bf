"""A whole election applied in-process over LevelDB stores, then audited and tampered with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plyvel
import pytest

from ballot_tx.errors import AuditError, ErrorCode, StoreError
from ballot_tx.state.snapshot import State
from genesis.document import genesis_hash
from harness.localchain import LocalChain
from harness.scenario import Outcome, run_election
from node.audit import audit_data_dir
from node.store import Store
from node.store_format import P_BLOCK, P_BLOCK_HASH, P_CERT, P_STATE, P_TX
from tests.ballot_tx.state.helpers import ROLES, VALIDATORS, make_genesis


class Built:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.genesis = make_genesis()
        self.paths = [root / "validator-0" / "data", root / "observer-0" / "data"]
        stores = [Store(p, self.genesis) for p in self.paths]
        try:
            self.chain = LocalChain(self.genesis, VALIDATORS, stores)
            self.outcome: Outcome = run_election(self.chain, ROLES, voters=100, revoters=10)
            self.codes: Outcome = run_election(
                self.chain, ROLES, voters=12, eligibility="one-time-code", name="codes"
            )
            self.root_hash = self.chain.state.root
            self.height = self.chain.state.height
        finally:
            for s in stores:
                s.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("election"))


def copy_db(built: Built, tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(built.paths[1], dst)
    return dst


def test_result_equals_plaintext_tally(built: Built) -> None:
    o = built.outcome
    assert o.voters == 100 and o.revotes == 10 and o.spoiled == 1
    assert o.ballots_cast == 110
    assert o.result.counts == o.expected
    assert sum(o.result.counts[0]) == 100  # single choice: one vote per voter, last one counts
    assert o.result.trustees == (1, 3)
    c = built.codes
    assert c.result.counts == c.expected and c.revotes == 0


def test_every_node_has_the_same_state_and_reopen_keeps_it(built: Built) -> None:
    roots = []
    for p in built.paths:
        with Store(p, built.genesis) as s:
            assert s.height == built.height
            st = s.state()
            roots.append(st.root)
            e = st.election(built.outcome.election_id)
            assert e is not None and e.voters_voted == 100 and e.ballots_cast == 110
            assert e.spoiled == 1 and e.registered == 100
            assert st.result(built.outcome.election_id) == built.outcome.result
    assert roots == [built.root_hash, built.root_hash]


def test_tx_index_and_receipts(built: Built) -> None:
    from ballot_tx.block import InclusionProof, merkle_proof, verify_inclusion

    with Store(built.paths[0], built.genesis) as s:
        for h in built.outcome.tx_hashes["cast"][:5] + built.outcome.tx_hashes["result"]:
            raw, height, index = s.get_tx(h)  # type: ignore[misc]
            block = s.block(height)
            proof = merkle_proof(block.tx_hashes(), index)
            verify_inclusion(InclusionProof(block.header, h, proof))
        assert s.find_tx(b"\x00" * 32) is None


def test_audit_passes_and_recomputes_results(built: Built, tmp_path: Path) -> None:
    report = audit_data_dir(copy_db(built, tmp_path))
    assert report.blocks == built.height
    assert report.state_root == built.root_hash
    assert report.kinds["ballot-cast"] == 110 + 12 and report.kinds["ballot-spoil"] == 2
    results = {e.name: e.result for e in report.elections}
    assert results["tsukuba-demo"] == built.outcome.result
    assert results["codes"] == built.codes.result


def flip_value(db: Path, key: bytes, offset: int = -1) -> None:
    d = plyvel.DB(str(db))
    try:
        v = bytearray(d.get(key))
        v[offset] ^= 0x01
        d.put(key, bytes(v), sync=True)
    finally:
        d.close()


def audit_error(db: Path) -> AuditError | StoreError:
    with pytest.raises((AuditError, StoreError)) as e:
        audit_data_dir(db)
    return e.value


@pytest.mark.parametrize("offset", [0, 40, -1])
def test_flipped_block_byte_is_named(built: Built, tmp_path: Path, offset: int) -> None:
    db = copy_db(built, tmp_path)
    h = built.height // 2
    flip_value(db, P_BLOCK + h.to_bytes(8, "big"), offset)
    e = audit_error(db)
    assert e.code == ErrorCode.STORE_CORRUPT
    assert f"block {h}" in e.message and f"height {h}" in e.message


def test_flipped_ballot_record_is_named(built: Built, tmp_path: Path) -> None:
    db = copy_db(built, tmp_path)
    d = plyvel.DB(str(db))
    key = next(k for k, _ in d.iterator(prefix=P_STATE + b"B"))
    d.close()
    flip_value(db, key, -5)
    e = audit_error(db)
    assert e.code == ErrorCode.STORE_CORRUPT and key[len(P_STATE) :].hex() in e.message


def test_reframed_tampering_is_caught_by_replay(built: Built, tmp_path: Path) -> None:
    """Someone who recomputes the frame hash still cannot change a ballot unnoticed."""
    from node.store_format import frame, unframe

    db = copy_db(built, tmp_path)
    d = plyvel.DB(str(db))
    key = next(k for k, _ in d.iterator(prefix=P_STATE + b"V"))
    payload = bytearray(unframe(key, d.get(key)))
    payload[-3] ^= 0x01
    d.put(key, frame(key, bytes(payload)), sync=True)
    d.close()
    e = audit_error(db)
    assert e.code in (ErrorCode.AUDIT_STATE_MISMATCH, ErrorCode.STORE_CORRUPT)


def test_flipped_index_and_certificate(built: Built, tmp_path: Path) -> None:
    db = copy_db(built, tmp_path)
    d = plyvel.DB(str(db))
    key = next(k for k, _ in d.iterator(prefix=P_TX))
    has_cert = d.get(P_CERT + (1).to_bytes(8, "big")) is not None
    d.close()
    flip_value(db, key)
    assert audit_error(db).code == ErrorCode.STORE_CORRUPT
    if has_cert:
        db2 = copy_db(built, tmp_path / "c")
        flip_value(db2, P_CERT + (3).to_bytes(8, "big"))
        e = audit_error(db2)
        assert e.code == ErrorCode.STORE_CORRUPT and "certificate at height 3" in e.message


def test_store_refuses_other_chain_and_missing(built: Built, tmp_path: Path) -> None:
    import dataclasses

    other = dataclasses.replace(built.genesis, chain_id="other-chain")
    with pytest.raises(StoreError) as e:
        Store(copy_db(built, tmp_path), other)
    assert e.value.code == ErrorCode.STORE_WRONG_CHAIN
    with pytest.raises(StoreError) as e:
        audit_data_dir(tmp_path / "nothing")
    assert e.value.code == ErrorCode.STORE_NOT_FOUND


def test_stale_snapshot_is_refused(built: Built, tmp_path: Path) -> None:
    from ballot_tx.errors import StateError

    chain = LocalChain(built.genesis, VALIDATORS, [Store(tmp_path / "db", built.genesis)])
    try:
        before: State = chain.state
        run_election(chain, ROLES, voters=2, revoters=0)
        with pytest.raises(StateError) as e:
            before.get(b"O")
        assert e.value.code == ErrorCode.STATE_STALE
    finally:
        chain.stores[0].close()


def test_parallel_audit_agrees(built: Built, tmp_path: Path) -> None:
    seq = audit_data_dir(copy_db(built, tmp_path / "a"))
    par = audit_data_dir(copy_db(built, tmp_path / "b"), jobs=2)
    assert par.state_root == seq.state_root and par.kinds == seq.kinds
    assert [e.result for e in par.elections] == [e.result for e in seq.elections]


def test_audit_cli(built: Built, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    db = copy_db(built, tmp_path)
    ok = CliRunner().invoke(cli, ["audit", "--data", str(db), "--jobs", "1"])
    assert ok.exit_code == 0, ok.output
    assert "audit OK" in ok.output and "result verified" in ok.output
    assert f"{built.height}/{built.height} blocks verified" in ok.output
    flip_value(db, P_BLOCK + (4).to_bytes(8, "big"), 50)
    bad = CliRunner().invoke(cli, ["audit", "--data", str(db), "--jobs", "1"])
    assert bad.exit_code == 1
    assert "[STORE_CORRUPT]" in bad.output and "block 4" in bad.output
    assert "Traceback" not in bad.output
    # issue 13: a wrong --expect-genesis is refused before any block is read, so the corrupt
    # block 4 is never reached; the right one replays (and meets the corruption)
    wrong = CliRunner().invoke(cli, ["audit", "--data", str(db), "--jobs", "1", "--expect-genesis", "ab" * 32])
    assert wrong.exit_code == 1
    assert "[AUDIT_CHAIN_BROKEN]" in wrong.output and "ab" * 32 in wrong.output, wrong.output
    assert "replaying" not in wrong.output and "blocks verified" not in wrong.output
    right = CliRunner().invoke(cli, ["audit", "--data", str(db), "--jobs", "1",
                                     "--expect-genesis", genesis_hash(built.genesis).hex()])
    assert right.exit_code == 1 and "[STORE_CORRUPT]" in right.output, right.output
    short = CliRunner().invoke(cli, ["audit", "--data", str(db), "--expect-genesis", "abcd"])
    assert short.exit_code != 0 and "[USAGE]" in short.output and "replaying" not in short.output


def rewrite_block(db: Path, height: int, tx_index: int, recertify: bool) -> None:
    """Replace one transaction's signature byte, re-frame the record (as an attacker with
    write access would), and optionally re-sign the certificate with the validator keys."""
    from ballot_tx.block import Block, make_block
    from ballot_tx.codec import decode, encode
    from harness.localchain import certificate_maker
    from node.store_format import frame, unframe

    d = plyvel.DB(str(db))
    try:
        key = P_BLOCK + height.to_bytes(8, "big")
        b = decode(Block, unframe(key, d.get(key)))
        txs = list(b.txs)
        txs[tx_index] = txs[tx_index][:-1] + bytes([txs[tx_index][-1] ^ 1])
        h = b.header
        nb = make_block(h.height, h.prev_hash, h.time_ms, h.proposer, h.state_root, txs)
        d.put(key, frame(key, encode(nb)), sync=True)
        # a thorough attacker also fixes the indexes
        d.delete(P_BLOCK_HASH + b.hash)
        bh = P_BLOCK_HASH + nb.hash
        d.put(bh, frame(bh, height.to_bytes(8, "big")))
        th = P_TX + nb.tx_hashes()[tx_index]
        d.put(th, frame(th, height.to_bytes(8, "big") + tx_index.to_bytes(4, "big")))
        if recertify:
            make = certificate_maker()
            assert make is not None
            ckey = P_CERT + height.to_bytes(8, "big")
            d.put(ckey, frame(ckey, make(make_genesis(), VALIDATORS, height, nb.hash)), sync=True)
    finally:
        d.close()


@pytest.mark.parametrize("recertify", [False, True])
def test_rewritten_block_is_named_with_height_and_tx(built: Built, tmp_path: Path, recertify: bool) -> None:
    db = copy_db(built, tmp_path)
    h = built.height - 8
    rewrite_block(db, h, 0, recertify)
    e = audit_error(db)
    assert isinstance(e, AuditError) and e.height == h
    if recertify:  # a forged certificate from the real keys: the replay still catches the tx
        assert e.code == ErrorCode.TX_BAD_SIGNATURE and e.tx_index == 0
        assert e.message.startswith(f"block {h}, tx 0: ")
    else:
        assert e.code == ErrorCode.AUDIT_BAD_CERTIFICATE


def test_any_flipped_record_fails_the_audit(built: Built, tmp_path: Path) -> None:
    d = plyvel.DB(str(built.paths[1]))
    keys = list(d.iterator(include_value=False))
    d.close()
    picks = [next(k for k in keys if k.startswith(p)) for p in (b"meta/tip", b"meta/genesis", b"bhi/", b"st/E", b"st/T", b"st/X")]
    for i, key in enumerate(picks):
        db = copy_db(built, tmp_path / str(i))
        flip_value(db, key, 7 if i % 2 else -2)
        e = audit_error(db)
        assert e.code == ErrorCode.STORE_CORRUPT, (key, e)


@pytest.mark.parametrize("offset", [0, -1])
def test_parallel_audit_names_the_same_error(built: Built, tmp_path: Path, offset: int) -> None:
    """Blocks are read ahead for the workers, but a damaged block is reported at its turn,
    exactly as by the sequential audit."""
    h = built.height // 2
    errors = []
    for jobs in (1, 2):
        db = copy_db(built, tmp_path / f"j{jobs}")
        flip_value(db, P_BLOCK + h.to_bytes(8, "big"), offset)
        with pytest.raises((AuditError, StoreError)) as e:
            audit_data_dir(db, jobs=jobs)
        errors.append((e.value.code, e.value.message))
    assert errors[0] == errors[1] and errors[0][0] == ErrorCode.STORE_CORRUPT


def test_parallel_audit_checks_proofs_on_the_workers(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --jobs, no ballot proof is verified in the replaying process: every block was
    checked on the workers ahead of its turn and the replay recalls the verdicts."""
    from ballot_tx.crypto import ballot as ballot_crypto

    calls = []
    real = ballot_crypto.verify_ballot

    def counting(*a: object) -> None:
        calls.append(os.getpid())
        real(*a)  # type: ignore[arg-type]

    monkeypatch.setattr(ballot_crypto, "verify_ballot", counting)
    audit_data_dir(copy_db(built, tmp_path / "seq"))
    assert os.getpid() in calls
    calls.clear()
    audit_data_dir(copy_db(built, tmp_path / "par"), jobs=2)
    assert os.getpid() not in calls
