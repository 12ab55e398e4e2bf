"""The CLI's foundation commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.output


def test_version_and_help() -> None:
    code, out = run("--version")
    assert code == 0 and "ballotchain" in out
    for cmd in (["keys"], ["keys", "new"], ["genesis", "new"], ["genesis", "verify"], ["demo"]):
        code, out = run(*cmd, "--help")
        assert code == 0 and "Usage:" in out


def test_keys_new_show_and_password(tmp_path: Path) -> None:
    f = tmp_path / "a.key"
    code, out = run("keys", "new", "--out", str(f), input="s3cret\n")
    assert code == 0 and f.stat().st_mode & 0o777 == 0o600
    code, out = run("keys", "new", "--out", str(f))
    assert code != 0 and "KEY_FILE_EXISTS" in out
    g = tmp_path / "b.key"
    code, out = run("keys", "new", "--out", str(g), "--password-stdin", input="pw\n")
    assert code == 0 and "password-encrypted" in out
    code, out = run("keys", "show", str(g))
    assert code == 0 and "encrypted:      yes" in out
    code, out = run("keys", "show", str(g), "--password-stdin", input="pw\n")
    assert code == 0 and "checked:        yes" in out
    code, out = run("keys", "show", str(g), "--password-stdin", input="nope\n")
    assert code != 0 and "KEY_WRONG_PASSWORD" in out
    code, out = run("keys", "show", str(tmp_path / "missing.key"))
    assert code != 0 and "IO_ERROR" in out


def test_genesis_new_verify_and_tamper(tmp_path: Path) -> None:
    out_dir = tmp_path / "net"
    code, out = run("genesis", "new", "--chain-id", "c1", "--out", str(out_dir), "--base-port", "39100")
    assert code == 0, out
    code, out = run("genesis", "verify", str(out_dir / "genesis.json"))
    assert code == 0 and "4 validators (f=1)" in out
    h = out.split("genesis hash: ")[1].strip()
    code, out = run("genesis", "verify", str(out_dir / "genesis.json"), "--expect", h)
    assert code == 0
    doc = json.loads((out_dir / "genesis.json").read_text())
    doc["chain_id"] = "c2"
    (out_dir / "genesis.json").write_text(json.dumps(doc))
    code, out = run("genesis", "verify", str(out_dir / "genesis.json"), "--expect", h)
    assert code != 0 and "does not match" in out
    doc["validators"][0]["x25519_public"] = "abc"
    (out_dir / "genesis.json").write_text(json.dumps(doc))
    code, out = run("genesis", "verify", str(out_dir / "genesis.json"))
    assert code != 0 and "validators[0].x25519_public" in out
    code, out = run("genesis", "new", "--chain-id", "c1", "--out", str(out_dir))
    assert code != 0 and "already holds a network" in out
    code, out = run("genesis", "new", "--chain-id", "c1", "--validators", "5", "--out", str(tmp_path / "n5"))
    assert code != 0 and "3f+1" in out


def test_user_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("garbage")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    p = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", "show", str(bad)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert p.returncode == 1
    assert "Traceback" not in p.stderr and "KEY_FILE_MALFORMED" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
