"""Keys made by the voting page (web/src/register.js) are ordinary key files: the Python
key-file reader opens them with the password, refuses a wrong one, and they are sealed
with the same argon2id limits as ``ballotchain voter keygen``."""

from __future__ import annotations

import json
import subprocess

import pytest

from ballot_tx.errors import ErrorCode, KeyError_
from ballot_tx.keys import ARGON2_MEMLIMIT, ARGON2_OPSLIMIT, load_key_file
from tests.web.jsbridge import WEB, require_node

PASSWORDS = ["つくば-2026-pass", "correct horse battery", "p" * 64]


def test_browser_made_key_files_open_in_python() -> None:
    require_node()
    proc = subprocess.run(["node", "test/register_cross.mjs"], cwd=WEB, input=json.dumps(PASSWORDS),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    publics = set()
    for pw, m in zip(PASSWORDS, made, strict=True):
        doc = json.loads(m["text"])
        assert doc["encryption"]["opslimit"] == ARGON2_OPSLIMIT
        assert doc["encryption"]["memlimit"] == ARGON2_MEMLIMIT
        assert "secret_check" not in doc and len(bytes.fromhex(doc["secret"])) == 24 + 64 + 16
        keys = load_key_file(m["text"], pw.encode())
        assert keys.ed25519_public.hex() == m["ed25519_public"] == doc["ed25519_public"]
        assert keys.x25519_public.hex() == doc["x25519_public"] and keys.node_id == doc["node_id"]
        with pytest.raises(KeyError_) as e:
            load_key_file(m["text"], b"wrong password")
        assert e.value.code == ErrorCode.KEY_WRONG_PASSWORD
        publics.add(m["ed25519_public"])
    assert len(publics) == len(PASSWORDS), "every key is fresh"
