"""Genesis documents: generation, verification, and tamper evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.errors import ErrorCode, GenesisError
from genesis.document import from_json, genesis_hash, to_json
from node.homes import make_network


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("net")
    make_network(out, "test-chain", 4, 1, base_port=39000, genesis_time_ms=1_700_000_000_000)
    return out


def test_layout_and_permissions(net: Path) -> None:
    for name in ["validator-0", "validator-1", "validator-2", "validator-3", "observer-0"]:
        home = net / name
        assert (home / "config.toml").is_file() and (home / "genesis.json").is_file()
        assert (home / "node.key").stat().st_mode & 0o777 == 0o600
        assert (home / "genesis.json").read_text() == (net / "genesis.json").read_text()
    for role in ("admin", "registrar"):
        assert (net / "authorities" / f"{role}.key").stat().st_mode & 0o777 == 0o600


def test_roundtrip_and_hash(net: Path) -> None:
    text = (net / "genesis.json").read_text()
    g = from_json(text)
    assert g.n == 4 and g.f == 1 and g.quorum == 3 and len(g.observers) == 1
    assert to_json(g) == text
    assert from_json(to_json(g)) == g
    addrs = [m.address for m in (*g.validators, *g.observers)]
    assert len(set(addrs)) == 5 and all(a.startswith("127.0.0.1:") for a in addrs)
    assert len(genesis_hash(g)) == 32


def _edit(text: str, path: list[object], value: object) -> str:
    doc = json.loads(text)
    obj = doc
    for p in path[:-1]:
        obj = obj[p]  # type: ignore[index]
    obj[path[-1]] = value  # type: ignore[index]
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["validators", 1, "node_id"], "00" * 20, "validators[1].node_id"),
        (["validators", 2, "ed25519_public"], "zz", "validators[2].ed25519_public"),
        (["validators", 3, "address"], "127.0.0.1", "validators[3].address"),
        (["observers", 0, "address"], None, "observers[0].address"),
        (["authorities", 0, "role"], "king", "authorities[0].role"),
        (["params", "view_timeout_ms"], 1, "params.view_timeout_ms"),
        (["params", "extra"], 1, "params.extra"),
        (["version"], 2, "version"),
        (["chain_id"], "", "chain_id"),
    ],
)
def test_bad_fields_are_named(net: Path, path: list[object], value: object, field: str) -> None:
    with pytest.raises(GenesisError) as e:
        from_json(_edit((net / "genesis.json").read_text(), path, value))
    assert e.value.code == ErrorCode.GENESIS_INVALID
    assert field in e.value.message


def test_duplicates_and_wrong_n(net: Path) -> None:
    doc = json.loads((net / "genesis.json").read_text())
    dup = dict(doc, validators=[doc["validators"][0]] * 4)
    with pytest.raises(GenesisError, match="duplicates"):
        from_json(json.dumps(dup))
    five = dict(doc, validators=doc["validators"] + doc["observers"])
    with pytest.raises(GenesisError, match="3f\\+1"):
        from_json(json.dumps(five))


@given(st.data())
def test_any_semantic_edit_changes_hash_or_fails(net: Path, data: st.DataObject) -> None:
    text = (net / "genesis.json").read_text()
    h = genesis_hash(from_json(text))
    i = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.sampled_from("0123456789abcdef\"x:,{}[] "))
    edited = text[:i] + ch + text[i + 1 :]
    try:
        g = from_json(edited)
    except GenesisError:
        return
    if genesis_hash(g) == h:
        assert json.loads(edited) == json.loads(text)  # only formatting changed
