"""The genesis ceremony from contributed keys, run as each organisation and the coordinator would.

Every organisation makes its key and contribution itself (one key encrypted,
as a careful operator would), the coordinator assembles, everyone verifies
their own entry against the hash published out of band, and every way a
coordinator or an outsider could slip in a key, move a node, or swap the
genesis is refused with its own code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ballot_tx.codec import encode
from ballot_tx.errors import ErrorCode, GenesisError
from ballot_tx.keys import KeyPair, load_key_file
from cli.main import cli
from genesis import ceremony
from genesis.document import from_json, genesis_hash
from genesis.localnet import DEFAULT_PARAMS
from node.config import render_config

ROOT = Path(__file__).resolve().parents[2]
ORGS = [
    ("validator", "Tsukuba City data centre", "https://10.20.0.1:7700"),
    ("validator", "University of Tsukuba", "https://10.20.0.2:7700"),
    ("validator", "Election commission", "https://10.20.0.3:7700"),
    ("validator", "Citizens' group Kenbun", "https://10.20.0.4:7700"),
    ("observer", "Ibaraki Shimbun newsroom", "https://10.20.0.5:7700"),
    ("admin", "Election commission (admin)", ""),
    ("registrar", "Tsukuba City residents office", ""),
    ("trustee", "Trustee: Prof. Sato", ""),
]


def run(*args: str, input: str | None = None, ok: bool = True) -> str:
    r = CliRunner().invoke(cli, list(args), input=input)
    assert (r.exit_code == 0) == ok, r.output
    return r.output


def contribute_all(d: Path, chain: str = "") -> list[Path]:
    out = []
    for i, (role, name, addr) in enumerate(ORGS):
        key = d / f"org{i}.key"
        contrib = d / f"contribution-{i}.json"
        if i == 0:  # the city encrypts its key
            run("keys", "new", "--out", str(key), "--password-stdin", input="s3cret pass\n")
            args = ["--password-stdin"]
            stdin: str | None = "s3cret pass\n"
        else:
            run("keys", "new", "--out", str(key))
            args, stdin = [], None
        extra = ["--address", addr] if addr else []
        extra += ["--chain-id", chain] if chain else []
        run("genesis", "contribute", "--key", str(key), "--role", role, "--name", name,
            *extra, "--out", str(contrib), *args, input=stdin)
        out.append(contrib)
    return out


@pytest.fixture(scope="module")
def ceremony_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ceremony")
    contribute_all(d, chain="tsukuba-2026")
    return d


def contributions(d: Path) -> list[str]:
    return sorted(str(p) for p in d.glob("contribution-*.json"))


def assemble(d: Path, files: list[str], out: str, ok: bool = True, *extra: str) -> str:
    return run("genesis", "assemble", *files, "--chain-id", "tsukuba-2026",
               "--genesis-time-ms", "1790000000000", "--out", str(d / out), *extra, ok=ok)


def test_ceremony_end_to_end(ceremony_dir: Path) -> None:
    d = ceremony_dir
    files = contributions(d)
    for f in files:  # a contribution holds no secret
        doc = json.loads(Path(f).read_text())
        assert "secret" not in doc and doc["type"] == "ballotchain-genesis-contribution"
    plain = load_key_file((d / "org1.key").read_text())
    assert plain.ed25519_seed.hex() not in (d / "contribution-1.json").read_text()
    out = assemble(d, files, "genesis.json")
    assert "4 validators (f=1), 1 observers, 3 authorities" in out
    for _, name, addr in ORGS:
        assert name in out
        assert addr.removeprefix("https://") in out
    g = from_json((d / "genesis.json").read_text())
    h = genesis_hash(g).hex()
    assert f"genesis hash: {h}" in out
    assert [m.node_id for m in g.validators] == sorted(m.node_id for m in g.validators)
    assert {a.role for a in g.authorities} == {"admin", "registrar", "trustee"}
    # deterministic: the coordinator's inputs in another order give the same genesis
    assemble(d, list(reversed(files)), "genesis-again.json")
    assert (d / "genesis-again.json").read_text() == (d / "genesis.json").read_text()
    # each organisation checks the hash and its own entry
    for i, (role, _, addr) in enumerate(ORGS):
        out = run("genesis", "verify", str(d / "genesis.json"), "--expect", h,
                  "--key", str(d / f"org{i}.key"), "--contribution", str(d / f"contribution-{i}.json"))
        assert f"your entry: {role} " in out and "(matches your contribution)" in out
        if addr:
            assert addr.removeprefix("https://") in out
        assert f'genesis_hash = "{h}"' in out


def _tamper(src: Path, dst: Path, **changes: object) -> str:
    doc = json.loads(src.read_text())
    doc.update(changes)
    dst.write_text(json.dumps(doc))
    return str(dst)


def test_assemble_refuses_bad_contributions(ceremony_dir: Path, tmp_path: Path) -> None:
    d = ceremony_dir
    files = contributions(d)
    c1 = d / "contribution-1.json"

    def refused(bad: str, code: ErrorCode, replace: int | None = 1) -> None:
        fs = [f for f in files if replace is None or not f.endswith(f"contribution-{replace}.json")]
        out = assemble(tmp_path, [*fs, bad], f"g-{code}.json", False)
        assert f"[{code}]" in out, out
        assert not (tmp_path / f"g-{code}.json").exists()

    # the coordinator moves the university's node to an address it controls
    refused(_tamper(c1, tmp_path / "moved.json", address="10.66.6.6:7700"),
            ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE)
    # or makes it an observer, or renames an authority
    refused(_tamper(c1, tmp_path / "demoted.json", role="observer"),
            ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE)
    # lists a key nobody proved to hold: someone else's signature over it
    other = KeyPair.generate()
    refused(_tamper(c1, tmp_path / "foreign.json", ed25519_public=other.ed25519_public.hex(),
                    node_id=other.node_id), ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE)
    # swaps in its own encryption key for the university's
    refused(_tamper(c1, tmp_path / "x25519.json", x25519_public=other.x25519_public.hex()),
            ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE)
    # the same contribution twice, or one key in two roles
    refused(str(c1), ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE, replace=None)
    k = d / "org1.key"
    dup = tmp_path / "dup-role.json"
    run("genesis", "contribute", "--key", str(k), "--role", "admin", "--name", "x", "--out", str(dup))
    refused(str(dup), ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE, replace=None)
    # two organisations claiming one address
    run("keys", "new", "--out", str(tmp_path / "squat.key"))
    squat = tmp_path / "squat.json"
    run("genesis", "contribute", "--key", str(tmp_path / "squat.key"), "--role", "observer",
        "--name", "squatter", "--address", ORGS[2][2], "--out", str(squat))
    refused(str(squat), ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE, replace=None)
    # an unknown role, even correctly signed
    kp = KeyPair.generate()
    s = ceremony.Signed(
        ceremony.Contribution("superuser", "x", "", kp.ed25519_public, kp.x25519_public, ""), b"")
    signed = ceremony.Signed(s.contribution, kp.sign(ceremony.SIG_KIND, ceremony.CEREMONY_ID,
                                                    encode(s.contribution)))
    (tmp_path / "role.json").write_text(ceremony.to_json(signed))
    refused(str(tmp_path / "role.json"), ErrorCode.GENESIS_CONTRIBUTION_ROLE, replace=None)
    # made for another chain
    run("genesis", "contribute", "--key", str(tmp_path / "squat.key"), "--role", "observer",
        "--name", "other", "--address", "10.9.9.9:1", "--chain-id", "mito-2026",
        "--out", str(tmp_path / "chain.json"))
    refused(str(tmp_path / "chain.json"), ErrorCode.GENESIS_CONTRIBUTION_WRONG_CHAIN, replace=None)
    # not a contribution at all
    (tmp_path / "junk.json").write_text('{"type": "ballotchain-key"}')
    refused(str(tmp_path / "junk.json"), ErrorCode.GENESIS_CONTRIBUTION_INVALID, replace=None)
    # three validators, or no registrar: the genesis rules still apply
    no_v = [f for f in files if not f.endswith("contribution-3.json")]
    out = assemble(tmp_path, no_v, "g3.json", False)
    assert "[GENESIS_INVALID]" in out and "3f+1" in out
    no_reg = [f for f in files if not f.endswith("contribution-6.json")]
    out = assemble(tmp_path, no_reg, "gr.json", False)
    assert "[GENESIS_INVALID]" in out and "registrar" in out


def test_contribute_refuses_what_a_role_cannot_have(tmp_path: Path) -> None:
    run("keys", "new", "--out", str(tmp_path / "k.key"))
    base = ["genesis", "contribute", "--key", str(tmp_path / "k.key"), "--name", "n",
            "--out", str(tmp_path / "c.json")]
    out = run(*base, "--role", "validator", ok=False)
    assert "[GENESIS_CONTRIBUTION_ROLE]" in out and "--address" in out
    out = run(*base, "--role", "admin", "--address", "https://a.example:443", ok=False)
    assert "[GENESIS_CONTRIBUTION_ROLE]" in out
    out = run(*base, "--role", "validator", "--address", "ftp://a.example:21", ok=False)
    assert "[GENESIS_CONTRIBUTION_INVALID]" in out
    out = run(*base, "--role", "validator", "--address", "https://a.example", ok=False)
    assert "[GENESIS_CONTRIBUTION_INVALID]" in out
    out = run(*base, "--role", "admin", "--name", "x" * 200, ok=False)
    assert "[GENESIS_CONTRIBUTION_INVALID]" in out and "out of bounds" in out
    assert not (tmp_path / "c.json").exists()
    run("keys", "new", "--out", str(tmp_path / "enc.key"), "--password-stdin", input="pw one\n")
    out = run("genesis", "contribute", "--key", str(tmp_path / "enc.key"), "--role", "admin",
              "--name", "n", "--out", str(tmp_path / "c.json"), "--password-stdin",
              input="wrong\n", ok=False)
    assert "[KEY_WRONG_PASSWORD]" in out


def test_verify_refuses_wrong_hash_and_foreign_entries(ceremony_dir: Path, tmp_path: Path) -> None:
    d = ceremony_dir
    g = from_json((d / "genesis.json").read_text())
    out = run("genesis", "verify", str(d / "genesis.json"), "--expect", "ab" * 32, ok=False)
    assert "[GENESIS_HASH_MISMATCH]" in out
    run("keys", "new", "--out", str(tmp_path / "stranger.key"))
    out = run("genesis", "verify", str(d / "genesis.json"), "--key", str(tmp_path / "stranger.key"),
              ok=False)
    assert "[GENESIS_ENTRY_MISMATCH]" in out
    # the university contributed twice (moved hosts); the coordinator used the old address
    keys = load_key_file((d / "org1.key").read_text())
    newer = ceremony.contribute(keys, "validator", ORGS[1][1], "https://10.20.9.2:7700")
    with pytest.raises(GenesisError) as e:
        ceremony.check_entry(g, keys.ed25519_public, newer.contribution)
    assert e.value.code == ErrorCode.GENESIS_ENTRY_MISMATCH and "10.20.0.2:7700" in e.value.message


def test_params_file(ceremony_dir: Path, tmp_path: Path) -> None:
    p = tmp_path / "params.toml"
    p.write_text("[params]\nmax_block_txs = 300\nview_timeout_ms = 3000\n")
    assemble(tmp_path, contributions(ceremony_dir), "gp.json", True, "--params", str(p))
    g = from_json((tmp_path / "gp.json").read_text())
    assert g.params == replace(DEFAULT_PARAMS, max_block_txs=300, view_timeout_ms=3000)
    p.write_text("max_block_tx = 300\n")
    out = assemble(tmp_path, contributions(ceremony_dir), "gq.json", False, "--params", str(p))
    assert "[GENESIS_INVALID]" in out and "params.max_block_tx" in out


def test_node_start_refuses_an_unverified_genesis(ceremony_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "genesis.json").write_text((ceremony_dir / "genesis.json").read_text())
    (home / "node.key").write_text((ceremony_dir / "org1.key").read_text())
    os.chmod(home / "node.key", 0o600)
    g = from_json((home / "genesis.json").read_text())
    good = genesis_hash(g).hex()
    other = "0" * 64
    (home / "config.toml").write_text(render_config("validator", "127.0.0.1:9", [], other))
    p = subprocess.run([sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 1, p.stderr
    assert "[GENESIS_HASH_MISMATCH]" in p.stderr and good in p.stderr and other in p.stderr
    assert "Traceback" not in p.stderr
    assert not (home / "data").exists()
    (home / "config.toml").write_text(render_config("validator", "127.0.0.1:9", [], "xyz"))
    p = subprocess.run([sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 1 and "[CONFIG_INVALID]" in p.stderr and "node.genesis_hash" in p.stderr
