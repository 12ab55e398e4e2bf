"""State-transition vectors (tests/vectors/chain): each case applied from its recorded state."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.block import Block
from ballot_tx.codec import decode
from ballot_tx.errors import BlockError
from ballot_tx.lthash import LtHash
from ballot_tx.state.execute import apply_block
from ballot_tx.state.genesis_facts import GenesisFacts
from ballot_tx.state.snapshot import MemoryBase, State
from genesis.document import Genesis

VEC = Path(__file__).resolve().parents[2] / "vectors" / "chain"
DATA = json.loads((VEC / "vectors.json").read_text())
GENESIS = decode(Genesis, bytes.fromhex(DATA["genesis"]))


def state_from(before: dict[str, Any]) -> State:
    records = {bytes.fromhex(k): bytes.fromhex(v) for k, v in before["records"]}
    lt = LtHash()
    for k, v in records.items():
        lt.add(k, v)
    st = State(
        GenesisFacts.of(GENESIS),
        MemoryBase(records, before["height"]),
        lt,
        before["height"],
        bytes.fromhex(before["block_hash"]),
        before["time_ms"],
    )
    assert st.root.hex() == before["state_root"]
    return st


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_vector(case: dict[str, Any]) -> None:
    st = state_from(case["before"])
    block = decode(Block, bytes.fromhex(case["block"]))
    expect = case["expect"]
    if "state_root" in expect:
        assert apply_block(st, block).root.hex() == expect["state_root"]
    else:
        with pytest.raises(BlockError) as e:
            apply_block(st, block)
        assert (str(e.value.code), e.value.tx_index) == (expect["error"], expect["tx_index"])


def test_vectors_match_a_fresh_run() -> None:
    """Any change to encodings, hashing or rules shows up here (regenerate on purpose only)."""
    spec = importlib.util.spec_from_file_location("chain_vectors_generate", VEC / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.generate() == DATA
