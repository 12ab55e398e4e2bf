"""The independent verifier (written from docs/spec alone) and the project's own audit agree:
both accept a genuine election record and both refuse every tampered copy, with the same
code and naming the same file."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ballot_tx.block import Block, make_block
from ballot_tx.codec import decode, encode, hash_bytes
from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as tr
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import AuditError, ErrorCode
from ballot_tx.tx import (
    CancelInternetVote,
    CastBallot,
    PublishResult,
    TrusteeComplaint,
    TrusteeReveal,
    decode_tx,
)
from cli.record import audit_record, derive, record_files, write_record
from consensus.certificate import CommitCertificate
from genesis.document import to_json
from harness.localchain import certificate_maker
from harness.scenario import run_election
from tests.ballot_tx.state.helpers import ADMIN, REGISTRAR, ROLES, TRUSTEES, VALIDATORS, kp
from tests.ballot_tx.state.world import Election, World
from tests.independent import independent_verifier as iv

SCRIPT = Path(iv.__file__)


def build_record(out: Path) -> None:
    """A chain with three elections: one whose ceremony has a complaint answered by a reveal,
    a one-time-code election with a ballot, and the recorded one (registered keys, re-votes,
    a spoiled ballot, a rating contest, decryption shares and a published result)."""
    w = World()
    e = w.create(w.manifest())
    w.ceremony(e, withhold=((1, 2),))  # trustee 2 does not acknowledge dealer 1: it complains
    w.run(w.tx(TRUSTEES[1], TrusteeComplaint(e.eid, tr.make_complaint(e.m, dealer=1, accuser=2))))
    w.run(w.tx(TRUSTEES[0], TrusteeReveal(e.eid, tr.make_reveal(e.m, 1, e.coeffs[1], 2))))
    w.register(e, 2)
    w.open(e)
    codes = w.open_election(w.manifest(eligibility="one-time-code"), 2)
    w.run(w.cast(codes, codes.voters[0]))
    outcome = run_election(w.chain, ROLES, voters=4, revoters=2, rating=True, deterministic=True,
                           name="spec-record")
    chain = w.chain
    eid = outcome.election_id
    d = derive(eid, list(zip(chain.blocks, chain.certificates, strict=True)), outcome.manifest,
               chain.state.tally(eid), chain.state.result(eid))
    write_record(out, record_files(eid, to_json(w.genesis), d, chain.state.height))


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spec") / "record"
    build_record(out)
    return out


def write_chain_record(out: Path, w: World, e: Election, blocks: list[tuple[Block, bytes | None]] | None = None) -> None:
    """The record of ``e`` over ``blocks`` (default: the world's chain as it is)."""
    chain = w.chain
    if blocks is None:
        blocks = list(zip(chain.blocks, chain.certificates, strict=True))
    d = derive(e.eid, blocks, e.m, chain.state.tally(e.eid), chain.state.result(e.eid))
    write_record(out, record_files(e.eid, to_json(w.genesis), d, len(blocks)))


def certify(w: World, txs: list[bytes]) -> tuple[Block, bytes]:
    """A block on the world's tip certified by a quorum of the validators' keys, without
    the rules being applied: what colluding validators could publish."""
    st = w.chain.state
    block = make_block(st.height + 1, st.block_hash, w.chain.next_time(), VALIDATORS[0].ed25519_public,
                       st.root, txs)
    make = certificate_maker()
    assert make is not None
    return block, make(w.genesis, VALIDATORS, block.height, block.hash)


@dataclasses.dataclass
class PaperWorld:
    """The chain of the paper-vote records, at the moment of the cancellation."""

    w: World
    e: Election
    cancel_at: int  # height of the block holding the cancellation alone


def paper_world() -> PaperWorld:
    """A city-login election whose registered voter is cancelled before the election opens,
    and the recorded re-voting election (registered keys): voters 0 to 3 vote, voter 1
    twice, then the registrar cancels voters 1 (counted ballot) and 4 (never voted)."""
    w = World()
    city = w.create(w.manifest(eligibility="city-login", revoting=True))
    w.ceremony(city)
    logins = [kp("city-login-voter", i) for i in range(2)]
    w.run(w.tx(REGISTRAR, RegisterKeys(city.eid, tuple(
        KeyEntry(v.ed25519_public, hash_bytes("spec-login-tag", bytes([i]))) for i, v in enumerate(logins)))))
    w.run(w.tx(REGISTRAR, CancelInternetVote(city.eid, (logins[1].ed25519_public,))))
    e = w.open_election(w.manifest(revoting=True), 5)
    v = e.voters
    w.run(w.cast(e, v[0], ((1, 0, 0),)), w.cast(e, v[1], ((0, 1, 0),)), w.cast(e, v[2], ((0, 0, 1),)),
          w.cast(e, v[3], ((1, 0, 0),)))
    w.run(w.cast(e, v[1], ((0, 1, 0),)))
    w.run(w.tx(REGISTRAR, CancelInternetVote(e.eid, (v[1].ed25519_public, v[4].ed25519_public))))
    return PaperWorld(w, e, w.chain.state.height)


def finish(pw: PaperWorld) -> None:
    """Close, decrypt with trustees 1 and 2, publish."""
    w, e = pw.w, pw.e
    w.close(e)
    w.post_share(e, 1)
    w.post_share(e, 2)
    tally = w.chain.state.tally(e.eid)
    assert tally is not None
    shares = w.chain.state.decryption_shares(e.eid, 3)
    result = decryption.decrypt_tally(e.m, [e.coms[i] for i in sorted(e.coms)], tally, shares)
    w.run(w.tx(ADMIN, PublishResult(e.eid, result)))


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Records with cancelled internet votes: the genuine one, one where colluding validators
    certified a ballot of a cancelled voter, and one where they certified the chain without
    the cancellation (rebuilding that block empty, the later blocks left as they were)."""
    base = tmp_path_factory.mktemp("paper")
    pw = paper_world()
    w, e = pw.w, pw.e
    out = {name: base / name for name in ("genuine", "recast", "uncancelled")}
    recast = w.cast(e, e.voters[1], ((1, 0, 0),))
    block, cert = certify(w, [encode(recast)])
    write_chain_record(out["recast"], w, e,
                       [*zip(w.chain.blocks, w.chain.certificates, strict=True), (block, cert)])
    finish(pw)
    write_chain_record(out["genuine"], w, e)
    blocks = list(zip(w.chain.blocks, w.chain.certificates, strict=True))
    i = pw.cancel_at - 1
    old = blocks[i][0]
    assert [type(decode_tx(t).body) for t in old.txs] == [CancelInternetVote]
    h = old.header
    empty = make_block(h.height, h.prev_hash, h.time_ms, h.proposer, h.state_root, [])
    make = certificate_maker()
    assert make is not None
    blocks[i] = (empty, make(w.genesis, VALIDATORS, empty.height, empty.hash))
    nxt = blocks[i + 1][0]  # relinked to the rebuilt block and re-certified; its state root is kept
    relinked = make_block(nxt.height, empty.hash, nxt.header.time_ms, nxt.header.proposer,
                          nxt.header.state_root, list(nxt.txs))
    blocks[i + 1] = (relinked, make(w.genesis, VALIDATORS, relinked.height, relinked.hash))
    write_chain_record(out["uncancelled"], w, e, blocks)
    return out


def run_verifier(rec: Path, *args: str) -> tuple[int, str]:
    """Run the verifier as a separate process that cannot import the project."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "-I", str(SCRIPT), str(rec), *args], capture_output=True,
                       text=True, env=env, cwd=rec.parent, timeout=300)
    return p.returncode, p.stdout + p.stderr


def project(rec: Path, expect: bytes | None = None) -> tuple[str, str] | None:
    try:
        audit_record(rec, expect_genesis=expect)
    except AuditError as e:
        return str(e.code), e.message.split(":", 1)[0]
    return None


def independent(rec: Path, expect: bytes | None = None) -> tuple[str, str] | None:
    try:
        iv.verify_record(rec, expect)
    except iv.Refused as e:
        return e.code, e.where.split(":", 1)[0]
    return None


def test_verifier_imports_nothing_from_the_project() -> None:
    tree = ast.parse(SCRIPT.read_text())
    mods = {n.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
    mods |= {node.module.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module}
    assert mods <= {"__future__", "hashlib", "json", "os", "re", "sys", "pathlib", "typing", "nacl", "rbcl"}, mods


def test_both_accept_the_genuine_record(record: Path) -> None:
    code, out = run_verifier(record)
    assert code == 0, out
    assert out.startswith("OK election spec-record:") and "6 ballots from 4 voters" in out
    assert project(record) is None
    # and the verifier replays the state root of every block, all three elections included
    s = iv.verify_record(record)
    assert s["height"] >= 20


def test_wrong_expected_genesis_is_refused_before_replay(record: Path) -> None:
    code, out = run_verifier(record, "--expect-genesis", "00" * 32)
    assert code == 1 and "REFUSED [AUDIT_CHAIN_BROKEN] genesis.json" in out
    assert project(record, bytes(32)) == ("AUDIT_CHAIN_BROKEN", "genesis.json")


def test_wrong_expected_genesis_is_refused_before_anything_is_replayed(record: Path, tmp_path: Path) -> None:
    """blocks.bin replaced by garbage (and rehashed): with a wrong --expect-genesis both
    verifiers and the CLI still answer with the genesis refusal, so nothing was read past it."""
    from click.testing import CliRunner

    from cli.main import cli

    w = copy(record, tmp_path / "w")
    (w / "blocks.bin").write_bytes(b"\x00\x00\x00\x03abc" * 7)
    rehash(w)
    assert independent(w) == project(w) == ("AUDIT_CHAIN_BROKEN", "blocks.bin")  # damage is seen
    chain_id = bytes.fromhex(json.loads((w / "record.json").read_text())["chain_id"])
    assert independent(w, chain_id) == project(w, chain_id) == ("AUDIT_CHAIN_BROKEN", "blocks.bin")
    calls: list[int] = []
    with pytest.raises(AuditError) as e:
        audit_record(w, progress=calls.append, expect_genesis=bytes(32), on_start=calls.append)
    assert e.value.code == ErrorCode.AUDIT_CHAIN_BROKEN and e.value.message.startswith("genesis.json")
    assert calls == []  # neither the replay's start nor one block
    assert independent(w, bytes(32)) == ("AUDIT_CHAIN_BROKEN", "genesis.json")
    r = CliRunner().invoke(cli, ["audit", "--record", str(w), "--expect-genesis", "00" * 32])
    assert r.exit_code == 1 and "[AUDIT_CHAIN_BROKEN] genesis.json" in r.output, r.output
    assert "replaying" not in r.output and "blocks verified" not in r.output
    # --node: the trusted genesis file is checked before the node is asked anything (nothing
    # listens at that address: a connection attempt would fail with another code)
    r = CliRunner().invoke(cli, ["audit", "--node", "http://127.0.0.1:9", "--genesis",
                                 str(w / "genesis.json"), "--expect-genesis", "00" * 32])
    assert r.exit_code == 1 and "[AUDIT_CHAIN_BROKEN]" in r.output and "genesis.json" in r.output, r.output
    r = CliRunner().invoke(cli, ["audit", "--node", "http://127.0.0.1:9", "--genesis",
                                 str(w / "genesis.json"), "--expect-genesis", chain_id.hex()])
    assert r.exit_code == 1 and "[CLI_NODE_UNREACHABLE]" in r.output, r.output  # the right one goes on


def copy(rec: Path, work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(rec, work)
    return work


def rehash(work: Path) -> None:
    """What a forger does after editing files: update record.json's hashes to match."""
    idx = json.loads((work / "record.json").read_text())
    for name in idx["files"]:
        if (work / name).exists():
            idx["files"][name] = hashlib.sha256((work / name).read_bytes()).hexdigest()
    (work / "record.json").write_text(json.dumps(idx, indent=1, sort_keys=True) + "\n")


def frames(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def reframe(items: list[bytes]) -> bytes:
    return b"".join(len(b).to_bytes(4, "big") + b for b in items)


def plant_file(w: Path) -> None:
    (w / "notes.txt").write_text("trust me\n")


def list_extra_kind(w: Path) -> None:
    (w / "extra.bin").write_bytes(b"")
    idx = json.loads((w / "record.json").read_text())
    idx["files"]["extra.bin"] = hashlib.sha256(b"").hexdigest()
    (w / "record.json").write_text(json.dumps(idx, indent=1, sort_keys=True) + "\n")


def extra_index_field(w: Path) -> None:
    idx = json.loads((w / "record.json").read_text())
    idx["signed_by"] = "the city"
    (w / "record.json").write_text(json.dumps(idx, indent=1, sort_keys=True) + "\n")


def extra_view_field(w: Path) -> None:
    doc = json.loads((w / "result.json").read_text())
    doc[0]["note"] = "recounted"
    (w / "result.json").write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    rehash(w)


def extra_tx_field(w: Path) -> None:
    doc = json.loads((w / "ballots.json").read_text())
    doc[0]["tx"]["body"]["ballot"]["verified_by"] = "the vendor"
    (w / "ballots.json").write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    rehash(w)


def reformat_view(w: Path) -> None:
    (w / "ballots.json").write_bytes((w / "ballots.json").read_bytes().replace(b'"height": ', b'"height":  ', 1))
    rehash(w)


def drop_certificate_signature(w: Path) -> None:
    certs = frames((w / "certificates.bin").read_bytes())
    c = decode(CommitCertificate, certs[3])
    certs[3] = encode(CommitCertificate(c.height, c.view, c.block_hash, c.sigs[:-1]))
    (w / "certificates.bin").write_bytes(reframe(certs))
    rehash(w)


def swap_certificate_signatures(w: Path) -> None:
    certs = frames((w / "certificates.bin").read_bytes())
    a, b = decode(CommitCertificate, certs[2]), decode(CommitCertificate, certs[3])
    certs[2] = encode(CommitCertificate(a.height, a.view, a.block_hash, b.sigs))
    (w / "certificates.bin").write_bytes(reframe(certs))
    rehash(w)


def drop_last_ballot(w: Path) -> None:
    data = frames((w / "ballots.bin").read_bytes())
    (w / "ballots.bin").write_bytes(reframe(data[:-1]))
    rehash(w)


def truncate_blocks(w: Path) -> None:
    data = (w / "blocks.bin").read_bytes()
    (w / "blocks.bin").write_bytes(data[:-10])
    rehash(w)


def deep_block_byte(w: Path) -> None:
    data = bytearray((w / "blocks.bin").read_bytes())
    data[len(data) * 3 // 4] ^= 1
    (w / "blocks.bin").write_bytes(bytes(data))
    rehash(w)


def change_genesis(w: Path) -> None:
    g = json.loads((w / "genesis.json").read_text())
    g["params"]["max_block_txs"] += 1
    (w / "genesis.json").write_text(json.dumps(g, indent=2, ensure_ascii=False) + "\n")
    rehash(w)


def edit_header(w: Path) -> None:
    """A block header changed (its time) with every hash in record.json updated."""
    from ballot_tx.block import Block

    blocks = frames((w / "blocks.bin").read_bytes())
    b = decode(Block, blocks[1])
    blocks[1] = encode(Block(dataclasses.replace(b.header, time_ms=b.header.time_ms + 1), b.txs))
    (w / "blocks.bin").write_bytes(reframe(blocks))
    rehash(w)


def rebuild_block_without_a_ballot(w: Path) -> None:
    """A ballot taken out of its block, the Merkle root and count recomputed: a consistent
    block, but not the one the validators certified."""
    from ballot_tx.block import Block, make_block
    from ballot_tx.tx import decode_tx

    blocks = frames((w / "blocks.bin").read_bytes())
    for i, raw in enumerate(blocks):
        b = decode(Block, raw)
        keep = [t for t in b.txs if not isinstance(decode_tx(t).body, CastBallot)]
        if len(keep) < len(b.txs):
            h = b.header
            blocks[i] = encode(make_block(h.height, h.prev_hash, h.time_ms, h.proposer, h.state_root, keep))
            break
    (w / "blocks.bin").write_bytes(reframe(blocks))
    rehash(w)


def drop_certificate(w: Path) -> None:
    certs = frames((w / "certificates.bin").read_bytes())
    certs[0] = b""
    (w / "certificates.bin").write_bytes(reframe(certs))
    rehash(w)


def change_result_count(w: Path) -> None:
    data = bytearray((w / "result.bin").read_bytes())
    data[-1] ^= 1
    (w / "result.bin").write_bytes(bytes(data))
    rehash(w)


#: (name, tamper, expected code, file named) -- both verifiers must agree on each.
TAMPERS: list[tuple[str, Callable[[Path], None], str, str]] = [
    ("planted file", plant_file, "AUDIT_UNLISTED", "notes.txt"),
    ("unknown kind listed", list_extra_kind, "AUDIT_UNLISTED", "extra.bin"),
    ("unknown index field", extra_index_field, "AUDIT_UNLISTED", "record.json"),
    ("unknown field in a view", extra_view_field, "AUDIT_UNLISTED", "result.json"),
    ("unknown field deep in a view", extra_tx_field, "AUDIT_UNLISTED", "ballots.json"),
    ("a view reformatted", reformat_view, "AUDIT_CHAIN_BROKEN", "ballots.json"),
    ("certificate one signature short", drop_certificate_signature, "AUDIT_BAD_CERTIFICATE", "certificates.bin"),
    ("certificate of another block", swap_certificate_signatures, "AUDIT_BAD_CERTIFICATE", "certificates.bin"),
    ("header edited", edit_header, "AUDIT_BAD_CERTIFICATE", "blocks.bin"),
    ("block rebuilt without a ballot", rebuild_block_without_a_ballot, "AUDIT_BAD_CERTIFICATE", "blocks.bin"),
    ("certificate missing", drop_certificate, "AUDIT_CERTIFICATE_MISSING", "certificates.bin"),
    ("ballot left out", drop_last_ballot, "AUDIT_CHAIN_BROKEN", "ballots.bin"),
    ("blocks truncated", truncate_blocks, "AUDIT_CHAIN_BROKEN", "blocks.bin"),
    ("byte deep in a block", deep_block_byte, "BLOCK_BAD_TX_ROOT", "blocks.bin"),
    ("another genesis", change_genesis, "AUDIT_CHAIN_BROKEN", "record.json"),
    ("result count changed", change_result_count, "AUDIT_CHAIN_BROKEN", "result.bin"),
]


@pytest.mark.parametrize("name,tamper,code,where", TAMPERS, ids=[t[0] for t in TAMPERS])
def test_both_refuse_the_same_tamper(record: Path, tmp_path: Path, name: str,
                                     tamper: Callable[[Path], None], code: str, where: str) -> None:
    w = copy(record, tmp_path / "w")
    tamper(w)
    got = independent(w)
    assert got is not None and got[0] == code, (name, got)
    assert where in got[1], (name, got)
    mine = project(w)
    assert mine is not None and mine[0] == code, (name, mine)
    assert where in mine[1], (name, mine)


def test_every_flipped_byte_is_refused_by_both(record: Path, tmp_path: Path) -> None:
    """One bit flipped in the middle of each file, record.json's hash left as it was."""
    for f in sorted(record.iterdir()):
        data = f.read_bytes()
        w = copy(record, tmp_path / "w")
        bad = bytearray(data)
        bad[len(data) // 2] ^= 0x01
        (w / f.name).write_bytes(bytes(bad))
        got, mine = independent(w), project(w)
        assert got is not None and mine is not None, (f.name, got, mine)
        assert got == mine, (f.name, got, mine)  # same code, same file named
        if f.name != "record.json":  # a flipped hash in the index names the file it hashes
            assert got[1] == f.name, (f.name, got)


def test_audit_names_unlisted_code_in_cli(record: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    w = copy(record, tmp_path / "w")
    plant_file(w)
    r = CliRunner().invoke(cli, ["audit", "--record", str(w)])
    assert r.exit_code != 0
    assert "[AUDIT_UNLISTED] notes.txt" in r.output
    assert ErrorCode.AUDIT_UNLISTED.value == "AUDIT_UNLISTED"


def test_both_accept_a_record_with_cancelled_internet_votes(paper: dict[str, Path]) -> None:
    """Voters 1 (two ballots) and 4 (none) voted on paper: the tally holds voters 0, 2 and 3."""
    rec = paper["genuine"]
    code, out = run_verifier(rec)
    assert code == 0, out
    assert "5 ballots from 3 voters (2 internet votes cancelled by paper votes)" in out, out
    assert "counts [[2, 0, 1]]" in out, out
    assert project(rec) is None
    regs = json.loads((rec / "registrations.json").read_text())
    assert [r["tx"]["body"]["type"] for r in regs] == ["RegisterKeys", "CancelInternetVote"]


def test_a_cancelled_voters_ballot_certified_by_colluding_validators_is_refused(paper: dict[str, Path]) -> None:
    rec = paper["recast"]
    code, out = run_verifier(rec)
    assert code == 1 and "REFUSED [TX_VOTE_CANCELLED] blocks.bin" in out, out
    assert independent(rec) == ("TX_VOTE_CANCELLED", "blocks.bin")
    assert project(rec) == ("TX_VOTE_CANCELLED", "blocks.bin")


def test_a_cancellation_taken_out_of_the_chain_is_refused(paper: dict[str, Path]) -> None:
    """Even re-certified, a chain without the cancellation disagrees with the next state root."""
    rec = paper["uncancelled"]
    assert independent(rec) == ("BLOCK_BAD_STATE_ROOT", "blocks.bin")
    assert project(rec) == ("BLOCK_BAD_STATE_ROOT", "blocks.bin")


def drop_cancellation(w: Path) -> None:
    """The cancellation left out of registrations.bin, the index rehashed."""
    regs = frames((w / "registrations.bin").read_bytes())
    (w / "registrations.bin").write_bytes(reframe(regs[:-1]))
    rehash(w)


def test_a_cancellation_left_out_of_the_record_is_refused(paper: dict[str, Path], tmp_path: Path) -> None:
    w = copy(paper["genuine"], tmp_path / "w")
    drop_cancellation(w)
    assert independent(w) == ("AUDIT_CHAIN_BROKEN", "registrations.bin")
    assert project(w) == ("AUDIT_CHAIN_BROKEN", "registrations.bin")


def test_the_verifier_judges_login_providers_as_the_project_does() -> None:
    """Every good and bad ``login_provider`` of the manifest tests: the verifier (written from
    transactions.md section 3) accepts and refuses exactly the manifests the project does."""
    from ballot_tx.errors import ManifestError
    from ballot_tx.manifest import validate_manifest
    from tests.ballot_tx.crypto.test_manifest import M, provider_variants

    for m in provider_variants(M):
        try:
            validate_manifest(m)
            ok = True
        except ManifestError:
            ok = False
        assert iv.manifest_valid(iv.check(iv.unpack(encode(m)), "Manifest")) == ok, m.login_provider
