"""PBFT step vectors (tests/vectors/pbft): replayed from their bytes, outputs byte-identical.

Each scenario is rebuilt from the file alone (genesis, validator seeds, persisted record,
events as encoded bytes) and stepped through ``consensus.replica.step``; every action must
encode to the recorded bytes and every refusal must carry the recorded code. The file must
equal a fresh run of its generator, and every consensus error code the replica can refuse
with must be exercised by at least one vector.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.codec import decode, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from ballot_tx.keys import KeyPair
from consensus.certificate import CommitCertificate
from consensus.events import (
    ClientWork,
    Event,
    Executed,
    FetchedBlocks,
    ProposalReady,
    Received,
    SafetyRecord,
    Start,
    TimerFired,
)
from consensus.messages import decode_message
from consensus.replica import init_state, step
from consensus.sim.app import SimApp
from genesis.document import Genesis, genesis_hash

ROOT = Path(__file__).resolve().parents[2]
VEC = ROOT / "tests" / "vectors" / "pbft"
DATA = json.loads((VEC / "vectors.json").read_text())
GENESIS = decode(Genesis, bytes.fromhex(DATA["genesis"]))
CHAIN_ID = bytes.fromhex(DATA["chain_id"])
KEYS = [KeyPair.from_seed(bytes.fromhex(v["seed"])) for v in DATA["validators"]]

#: Consensus codes no vector can show, with the reason (checked below against the code).
UNREACHABLE = {
    ErrorCode.CONSENSUS_BAD_CHECKPOINT:
        "raised only by consensus.checkpoint.check_checkpoint_proof, whose callers in the replica "
        "re-raise it as CONSENSUS_BAD_VIEW_CHANGE (a VIEW-CHANGE's C) or CONSENSUS_BAD_RECORD "
        "(a restored safety record)",
}


def event_of(e: dict[str, Any]) -> Event:
    t = e["type"]
    if t == "Start":
        return Start()
    if t == "Received":
        return Received(decode_message(bytes.fromhex(e["message"])), e["at_ms"])
    if t == "TimerFired":
        return TimerFired(e["name"], e["token"])
    if t == "ProposalReady":
        return ProposalReady(e["height"], e["view"], bytes.fromhex(e["block"]))
    if t == "Executed":
        return Executed(e["height"], bytes.fromhex(e["state_root"]))
    if t == "ClientWork":
        return ClientWork(e["pending"])
    assert t == "FetchedBlocks", t
    return FetchedBlocks(tuple((bytes.fromhex(b), decode(CommitCertificate, bytes.fromhex(c)))
                               for b, c in e["blocks"]))


def test_vectors_match_a_fresh_run() -> None:
    assert _gen().render() == (VEC / "vectors.json").read_text(), (
        "tests/vectors/pbft/vectors.json is stale: run python tests/vectors/pbft/generate.py")


def test_the_file_states_its_own_genesis_and_keys() -> None:
    assert genesis_hash(GENESIS) == CHAIN_ID
    for i, v in enumerate(DATA["validators"]):
        assert GENESIS.validators[i].ed25519_public.hex() == v["ed25519_public"] == KEYS[i].ed25519_public.hex()
    p = DATA["params"]
    assert (GENESIS.n, GENESIS.f, GENESIS.params.checkpoint_interval, GENESIS.params.view_timeout_ms) == (
        p["n"], p["f"], p["checkpoint_interval"], p["view_timeout_ms"])


@pytest.mark.parametrize("sc", DATA["scenarios"], ids=[s["name"] for s in DATA["scenarios"]])
def test_scenario_replays_byte_for_byte(sc: dict[str, Any]) -> None:
    me = sc["replica"]
    persisted = None if sc["persisted"] is None else decode(SafetyRecord, bytes.fromhex(sc["persisted"]))
    st = init_state(GENESIS, me, CHAIN_ID, KEYS[me], SimApp(), persisted=persisted)
    for n, s in enumerate(sc["steps"]):
        ev = event_of(s["event"])
        assert _gen().event_json(ev) == s["event"], (n, "the event does not re-encode to its bytes")
        before = Counter(st.stats.rejected)
        st, actions = step(st, ev)
        got = [_gen().action_json(a) for a in actions]
        assert got == s["actions"], (sc["name"], n, s.get("note"))
        refused = Counter(st.stats.rejected)
        refused.subtract(before)
        assert sorted(c for c, k in refused.items() for _ in range(k)) == s["refused"], (sc["name"], n)


_GEN: Any = None


def _gen() -> Any:
    """The generator's JSON forms (one definition of the format, shared with the writer)."""
    global _GEN
    if _GEN is None:
        spec = importlib.util.spec_from_file_location("pbft_vectors_format", VEC / "generate.py")
        assert spec is not None and spec.loader is not None
        _GEN = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_GEN)
    return _GEN


@pytest.mark.parametrize("case", DATA["init_refusals"], ids=[c["name"] for c in DATA["init_refusals"]])
def test_init_refusals(case: dict[str, Any]) -> None:
    persisted = None if case["persisted"] is None else decode(SafetyRecord, bytes.fromhex(case["persisted"]))
    key = KeyPair.from_seed(bytes.fromhex(case["key_seed"]))
    with pytest.raises(ConsensusError) as e:
        init_state(GENESIS, case["replica"], CHAIN_ID, key, SimApp(), persisted=persisted)
    assert str(e.value.code) == case["error"]


def test_every_consensus_code_has_a_vector_or_a_reason() -> None:
    consensus = {c for c in ErrorCode if c.startswith("CONSENSUS_")}
    covered = {c for sc in DATA["scenarios"] for s in sc["steps"] for c in s["refused"]}
    covered |= {c["error"] for c in DATA["init_refusals"]}
    missing = sorted(str(c) for c in consensus - set(UNREACHABLE) if str(c) not in covered)
    assert not missing, f"no PBFT vector refuses with {missing}"
    for code in UNREACHABLE:
        assert str(code) not in covered
    # the reason holds: the code is raised in consensus/checkpoint.py only, and every caller
    # of check_checkpoint_proof in the replica's modules re-raises under another code
    # the pure core: consensus/*.py and the replica's package (not the simulation)
    core = [*(ROOT / "consensus").glob("*.py"), *(ROOT / "consensus" / "replica").glob("*.py")]
    assert any(py.name == "normal_case.py" for py in core)
    raising = {py.name for py in core
               if f"ErrorCode.{ErrorCode.CONSENSUS_BAD_CHECKPOINT.name}" in py.read_text()}
    assert raising == {"checkpoint.py"}, raising
    for py in core:
        text = py.read_text()
        for m in re.finditer(r"\n( +)try:\n\1    check_checkpoint_proof\(.*\n\1except ConsensusError as e:\n"
                             r"\1    raise ConsensusError\(ErrorCode\.(\w+)", text):
            assert m.group(2) != ErrorCode.CONSENSUS_BAD_CHECKPOINT.name
        calls = text.count("check_checkpoint_proof(") - text.count("def check_checkpoint_proof(")
        wrapped = len(re.findall(r"try:\n +check_checkpoint_proof\(", text))
        assert calls == wrapped, f"{py.name} calls check_checkpoint_proof without re-raising under its own code"
    # and the replica never raises anything outside the table's consensus codes
    used = set()
    for py in core:
        used |= set(re.findall(r"ErrorCode\.(CONSENSUS_\w+)", py.read_text()))
    assert used <= {c.name for c in consensus}
    assert {c.name for c in consensus} - used == set(), "a consensus code the replica never uses"
    assert encode(decode(Genesis, bytes.fromhex(DATA["genesis"]))).hex() == DATA["genesis"]
