"""The docs/spec vectors (tests/vectors/spec and tests/vectors/chain), checked twice: by the
project's code and by the independent verifier written from the spec."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import nacl.bindings
import pytest

from ballot_tx.block import Block, BlockHeader, MerkleProof, merkle_root, verify_merkle_proof
from ballot_tx.codec import _check_plain, decode, domain, encode, hash_bytes, pack, unpack
from ballot_tx.crypto import group
from ballot_tx.errors import BallotchainError, BlockError, CodecError, ErrorCode
from ballot_tx.keys import node_id, verify
from ballot_tx.lthash import LtHash
from ballot_tx.state.execute import apply_block
from ballot_tx.state.genesis_facts import GenesisFacts
from ballot_tx.state.snapshot import MemoryBase, State
from genesis.document import Genesis, from_json, genesis_hash
from tests.independent import independent_verifier as iv

ROOT = Path(__file__).resolve().parents[2]
VEC = ROOT / "tests" / "vectors"
SPEC = {p.stem: json.loads(p.read_text()) for p in sorted((VEC / "spec").glob("*.json"))
        if p.stem != "rejections"}
REJECTIONS = json.loads((VEC / "spec" / "rejections.json").read_text())
CHAIN = json.loads((VEC / "chain" / "vectors.json").read_text())


def value(v: Any) -> Any:
    if isinstance(v, dict) and "bin" in v:
        return bytes.fromhex(v["bin"])
    if isinstance(v, dict) and "array" in v:
        return [value(x) for x in v["array"]]
    return v


def test_vectors_match_a_fresh_run() -> None:
    spec = importlib.util.spec_from_file_location("spec_vectors_generate", VEC / "spec" / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.generate() == SPEC
    assert set(SPEC) == {"encoding", "hashes", "merkle", "lthash", "signatures", "genesis"}


@pytest.mark.parametrize("case", SPEC["encoding"]["values"], ids=lambda c: c["name"])
def test_encoding_values(case: dict[str, Any]) -> None:
    v, data = value(case["value"]), bytes.fromhex(case["hex"])
    assert pack(v).hex() == case["hex"] == iv.pack(v).hex()
    assert unpack(data) == v == iv.unpack(data)


def project_strict(data: bytes) -> None:
    plain = unpack(data)
    _check_plain(plain)
    if pack(plain) != data:
        raise CodecError(ErrorCode.CODEC_NON_CANONICAL, "re-encodes differently")


@pytest.mark.parametrize("case", SPEC["encoding"]["refused"], ids=lambda c: c["name"])
def test_encoding_refusals(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["hex"])
    with pytest.raises(BallotchainError):
        project_strict(data)
    with pytest.raises((ValueError, UnicodeDecodeError)):
        iv.unpack(data)


def test_hash_kinds() -> None:
    h = SPEC["hashes"]
    for c in h["sha256"]:
        data = bytes.fromhex(c["data"])
        assert domain(c["kind"]).hex() == c["domain"] == iv.domain(c["kind"]).hex()
        assert hash_bytes(c["kind"], data).hex() == c["sha256"] == iv.H(c["kind"], data).hex()
    for c in h["scalars"]:
        data = bytes.fromhex(c["data"])
        assert hashlib.sha512(iv.domain(c["kind"]) + data).hexdigest() == c["sha512"]
        assert group.sc(group.hash_to_scalar(c["kind"], data)).hex() == c["scalar"]
        assert iv.sc(iv.hash_to_scalar(c["kind"], data)).hex() == c["scalar"]
        # little-endian, reduced mod L: the byte order the spec states
        assert int.from_bytes(bytes.fromhex(c["sha512"]), "little") % iv.L == int.from_bytes(
            bytes.fromhex(c["scalar"]), "little")


def test_merkle() -> None:
    for c in SPEC["merkle"]["cases"]:
        items = [bytes.fromhex(x) for x in c["items"]]
        assert merkle_root(items).hex() == c["root"] == iv.merkle_root(items).hex()
        if items:
            p = c["proof_of_last"]
            proof = MerkleProof(p["index"], p["size"], tuple(bytes.fromhex(x) for x in p["path"]))
            assert verify_merkle_proof(items[-1], proof, bytes.fromhex(c["root"]))
    # the empty root is not RFC 9162's SHA-256('') -- the spec says so
    assert SPEC["merkle"]["cases"][0]["root"] != hashlib.sha256(b"").hexdigest()


def test_lthash() -> None:
    mine, theirs = LtHash(), iv.LtHash()
    for s in SPEC["lthash"]["steps"]:
        if s["op"] != "empty":
            k, v = bytes.fromhex(s["key"]), bytes.fromhex(s["value"])
            getattr(mine, s["op"])(k, v)
            getattr(theirs, s["op"])(k, v)
        assert mine.root().hex() == s["root"] == theirs.root().hex()
    k, v = (bytes.fromhex(SPEC["lthash"]["steps"][2][f]) for f in ("key", "value"))
    lanes = iv.record_lanes(k, v)
    assert b"".join(x.to_bytes(2, "little") for x in lanes).hex() == SPEC["lthash"]["lanes_of_one"]


def test_signatures() -> None:
    s = SPEC["signatures"]
    seed = bytes.fromhex(s["seed"])
    assert iv.H("seed/ed25519", seed).hex() == s["ed25519_seed"]
    pk, _ = nacl.bindings.crypto_sign_seed_keypair(bytes.fromhex(s["ed25519_seed"]))
    assert pk.hex() == s["ed25519_public"]
    assert node_id(pk) == s["node_id"] == iv.node_id(pk)
    for c in s["cases"]:
        cid, body, sig = (bytes.fromhex(c[f]) for f in ("chain_id", "body", "signature"))
        assert (iv.domain("sig/" + c["kind"]) + cid + body).hex() == c["signed_bytes"]
        assert verify(pk, c["kind"], cid, body, sig) and iv.sig_ok(pk, c["kind"], cid, body, sig)
        other = "tx" if c["kind"] != "tx" else "pbft/commit"
        assert not verify(pk, other, cid, body, sig) and not iv.sig_ok(pk, other, cid, body, sig)


def test_genesis() -> None:
    g = SPEC["genesis"]
    assert genesis_hash(from_json(g["json"])).hex() == g["chain_id"]
    mine = iv.genesis_from_json(g["json"])
    assert iv.enc(mine).hex() == g["canonical"]
    assert iv.H("genesis", bytes.fromhex(g["canonical"])).hex() == g["chain_id"]
    # the chain id is the hash of the parsed document, not of the file's bytes
    assert hashlib.sha256(g["json"].encode()).hexdigest() != g["chain_id"]


@pytest.mark.parametrize("case", CHAIN["cases"], ids=[c["name"] for c in CHAIN["cases"]])
def test_chain_vectors_by_the_independent_verifier(case: dict[str, Any]) -> None:
    """tests/vectors/chain is checked by the project (tests/ballot_tx/state/test_vectors.py); here the
    verifier replays the same cases from the spec's state machine."""
    genesis = iv.check(iv.unpack(bytes.fromhex(CHAIN["genesis"])), "Genesis")
    st = iv.ChainState(genesis, iv.H("genesis", bytes.fromhex(CHAIN["genesis"])))
    b = case["before"]
    st.load({bytes.fromhex(k): bytes.fromhex(v) for k, v in b["records"]}, b["height"],
            bytes.fromhex(b["block_hash"]), b["time_ms"])
    assert st.lt.root().hex() == b["state_root"]
    block = iv.check(iv.unpack(bytes.fromhex(case["block"])), "Block")
    expect = case["expect"]
    if "state_root" in expect:
        st.apply(block)
        assert st.lt.root().hex() == expect["state_root"]
    else:
        with pytest.raises(iv.TxRefused) as e:
            st.apply(block)
        assert (e.value.code, e.value.tx_index) == (expect["error"], expect["tx_index"])


def project_state(vec: dict[str, Any]) -> State:
    genesis = decode(Genesis, bytes.fromhex(vec["genesis"]))
    b = vec["before"]
    records = {bytes.fromhex(k): bytes.fromhex(v) for k, v in b["records"]}
    lt = LtHash()
    for k, v in records.items():
        lt.add(k, v)
    st = State(GenesisFacts.of(genesis), MemoryBase(records, b["height"]), lt, b["height"],
               bytes.fromhex(b["block_hash"]), b["time_ms"])
    assert st.root.hex() == b["state_root"]
    return st


def block_of(case: dict[str, Any]) -> bytes:
    """A case's block: its bytes, or (``zero_txs``) a header and that many zero-filled
    transactions, too large to write out."""
    if "block" in case:
        return bytes.fromhex(case["block"])
    z = case["zero_txs"]
    header = decode(BlockHeader, bytes.fromhex(case["header"]))
    return encode(Block(header, (bytes(z["bytes"]),) * z["count"]))


@pytest.mark.parametrize("case", REJECTIONS["cases"], ids=[c["name"] for c in REJECTIONS["cases"]])
def test_rejection_vectors_by_both(case: dict[str, Any]) -> None:
    """The same block refused with the same code at the same index by the project and by
    the independent verifier (or, for the valid case, the same state root)."""
    raw = block_of(case)
    expect = case["expect"]
    st = project_state(REJECTIONS)
    genesis = iv.check(iv.unpack(bytes.fromhex(REJECTIONS["genesis"])), "Genesis")
    theirs = iv.ChainState(genesis, iv.H("genesis", bytes.fromhex(REJECTIONS["genesis"])))
    b = REJECTIONS["before"]
    theirs.load({bytes.fromhex(k): bytes.fromhex(v) for k, v in b["records"]}, b["height"],
                bytes.fromhex(b["block_hash"]), b["time_ms"])
    block = iv.check(iv.unpack(raw), "Block")
    if "state_root" in expect:
        assert apply_block(st, decode(Block, raw)).root.hex() == expect["state_root"]
        theirs.apply(block)
        assert theirs.lt.root().hex() == expect["state_root"]
        return
    with pytest.raises(BlockError) as e:
        apply_block(st, decode(Block, raw))
    assert (str(e.value.code), e.value.tx_index) == (expect["error"], expect["tx_index"])
    with pytest.raises(iv.TxRefused) as r:
        theirs.apply(block)
    assert (r.value.code, r.value.tx_index) == (expect["error"], expect["tx_index"])


def chain_codes_in_the_code() -> set[str]:
    """Every code a block or a transaction in it can be refused with, read from ballot_tx's
    source: the literal first argument of each ``TxError``/``BlockError`` (and of the
    ``crypto_check`` guard of ballot_tx/state that builds a ``TxError``). A call whose code
    is not a literal must be one of the known pass-throughs (a helper's parameter, or
    apply_block re-raising a ``TxError``'s code), so no other group's code can escape."""
    makers = {"TxError", "BlockError", "crypto_check"}
    passthrough = {("crypto_check", "code"), ("apply_block", "e.code")}
    codes: set[str] = set()
    for py in (ROOT / "ballot_tx").rglob("*.py"):
        if py.name == "errors.py":
            continue
        tree = ast.parse(py.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id in makers and call.args):
                    continue
                arg = call.args[0]
                if (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                        and arg.value.id == "ErrorCode"):
                    codes.add(arg.attr)
                else:
                    assert (fn.name, ast.unparse(arg)) in passthrough, (py.name, fn.name, ast.unparse(arg))
    return codes


def test_rejection_vectors_cover_every_chain_code() -> None:
    """Every code a block or a transaction in it can be refused with is a vector."""
    codes = {c["expect"].get("error") for c in REJECTIONS["cases"]}
    produced = chain_codes_in_the_code()
    assert all(c.startswith(("TX_", "BLOCK_")) for c in produced), produced
    receipt_only = {str(ErrorCode.BLOCK_BAD_PROOF)}  # verify_inclusion: a receipt, not a block rule
    assert produced - receipt_only - codes == set()
    block_codes = {c for c in ErrorCode if c.startswith("TX_")}
    block_codes |= {c for c in ErrorCode if c.startswith("BLOCK_")} - {
        ErrorCode.BLOCK_MALFORMED,  # the node's decoding of a whole block, before any rule
        ErrorCode.BLOCK_BAD_PROOF,  # a receipt's inclusion proof, not a block rule
    }
    assert {str(c) for c in block_codes} - codes == set()
    assert {str(c) for c in block_codes} <= produced  # no TX_/BLOCK_ code that nothing raises


def test_crypto_vectors_by_the_independent_verifier() -> None:
    """tests/vectors/crypto (checked by tests/ballot_tx/crypto/test_vectors.py) verified from the spec:
    commitments, every ballot's proofs, every decryption share and the result."""
    d = json.loads((VEC / "crypto" / "vectors.json").read_text())
    m = iv.check(iv.unpack(bytes.fromhex(d["manifest"]["encoding"])), "Manifest")
    eid = iv.H("manifest", bytes.fromhex(d["manifest"]["encoding"]))
    assert eid.hex() == d["manifest"]["election_id"] and iv.manifest_valid(m)
    for c in d["group"]["hash_to_scalar"]:
        assert iv.sc(iv.hash_to_scalar(c["kind"], bytes.fromhex(c["data"]))).hex() == c["scalar"]
    coms = [iv.check(iv.unpack(bytes.fromhex(t["encoding"])), "TrusteeCommitment")
            for t in d["ceremony"]["trustees"]]
    assert all(iv.verify_commitment(m, eid, c) for c in coms)
    key = iv.joint(coms)[0]
    assert key.hex() == d["ceremony"]["joint_key"]
    for t in d["ceremony"]["trustees"]:  # every dealt share matches the dealer's commitments
        com = coms[t["index"] - 1]
        for s in t["shares"]:
            assert iv.base(int.from_bytes(bytes.fromhex(s["value"]), "little")) == iv.poly_at(com.commitments, s["to"])
    for b in d["ballots"]:
        ballot = iv.check(iv.unpack(bytes.fromhex(b["encoding"])), "EncryptedBallot")
        cred = bytes.fromhex(b["credential"])
        assert iv.verify_ballot(m, eid, key, cred, ballot)
        assert not iv.verify_ballot(m, eid, key, bytes(32), ballot)  # bound to its voter
        secrets = iv.check(iv.unpack(bytes.fromhex(b["secrets_encoding"])), "BallotSecrets")
        assert secrets.selections == b["selections"]
        assert iv.verify_spoiled(m, eid, key, cred, ballot, secrets)
    tally = iv.check(iv.unpack(bytes.fromhex(d["tally"]["encoding"])), "EncryptedTally")
    assert iv.H("encrypted-tally", iv.enc(tally)).hex() == d["tally"]["digest"]
    shares = {}
    for s in d["tally"]["decryption_shares"]:
        share = iv.check(iv.unpack(bytes.fromhex(s["encoding"])), "DecryptionShare")
        assert iv.verify_share(m, coms, tally, share)
        shares[share.trustee] = share
    result = iv.check(iv.unpack(bytes.fromhex(d["tally"]["result_encoding"])), "TallyResult")
    assert result.counts == d["tally"]["counts"]
    assert iv.verify_result(m, coms, tally, shares, result)
    wrong = iv.Obj("TallyResult", {**result, "counts": [[result.counts[0][0] + 1, *result.counts[0][1:]],
                                                         *result.counts[1:]]})
    assert not iv.verify_result(m, coms, tally, shares, wrong)
