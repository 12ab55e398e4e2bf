"""Signatures and key files in the browser (web/src/keys.js) against ballot_tx.keys.

The browser signs with keys derived from one-time codes and opens a voter's
password-protected key file itself; both must agree with Python exactly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ballot_tx import keys as keys_mod
from ballot_tx.errors import KeyError_
from ballot_tx.keys import KeyPair, dump_key_file, load_key_file, node_id, signing_bytes
from tests.web.jsbridge import run_js

CHAIN = bytes(range(32))


def cheap_sealed(keys: KeyPair, password: bytes, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sealed key file with libsodium's minimum argon2id cost (fast to open in tests)."""
    monkeypatch.setattr(keys_mod, "ARGON2_OPSLIMIT", 1)
    monkeypatch.setattr(keys_mod, "ARGON2_MEMLIMIT", 8192)
    text = dump_key_file(keys, password)
    monkeypatch.undo()
    return text


def py_load(text: str, password: str | None) -> dict[str, Any]:
    try:
        k = load_key_file(text, password.encode() if password is not None else None)
    except KeyError_ as e:
        return {"error": str(e.code)}
    return {"ok": {"seed": k.ed25519_seed.hex(), "x25519_secret": k.x25519_secret.hex(), "node_id": k.node_id}}


def strip(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "message"} for r in results]


def test_keys_signing_bytes_and_signatures_match() -> None:
    seeds = [bytes([i]) * 32 for i in range(5)]
    body = b"\x93\x01\x02\x03"
    reqs: list[dict[str, Any]] = [
        {"op": "keypair_from_seed", "seed": s.hex(), "kind": "tx", "chain_id": CHAIN.hex(), "body": body.hex()}
        for s in seeds
    ]
    reqs.append({"op": "signing_bytes", "kind": "tx", "chain_id": CHAIN.hex(), "body": body.hex()})
    got = run_js(reqs)
    for s, g in zip(seeds, got[:-1], strict=True):
        k = KeyPair.from_seed(s)
        assert g["ok"] == {
            "ed25519_public": k.ed25519_public.hex(),
            "x25519_public": k.x25519_public.hex(),
            "node_id": k.node_id,
            "signature": k.sign("tx", CHAIN, body).hex(),  # Ed25519 is deterministic
        }
    assert got[-1]["ok"] == signing_bytes("tx", CHAIN, body).hex()


def test_js_verifies_python_signatures_and_rejects_any_change() -> None:
    k = KeyPair.from_seed(b"\x09" * 32)
    body = b"ballot bytes"
    sig = k.sign("tx", CHAIN, body)
    base = {"op": "verify", "public": k.ed25519_public.hex(), "kind": "tx", "chain_id": CHAIN.hex(),
            "body": body.hex(), "signature": sig.hex()}
    other = KeyPair.from_seed(b"\x0a" * 32).ed25519_public
    variants = [
        base,
        {**base, "kind": "vote"},
        {**base, "chain_id": bytes(32).hex()},
        {**base, "body": (body + b"!").hex()},
        {**base, "signature": (sig[:-1] + bytes([sig[-1] ^ 1])).hex()},
        {**base, "public": other.hex()},
        {**base, "signature": sig[:63].hex()},
    ]
    got = [r["ok"] for r in run_js(variants)]
    assert got == [True] + [False] * 6
    (nid,) = run_js([{"op": "node_id", "public": other.hex()}])
    assert nid["ok"] == node_id(other)


def test_plain_and_sealed_key_files_open_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    k = KeyPair.from_seed(b"\x33" * 32)
    plain = dump_key_file(k)
    sealed = dump_key_file(k, "correct horse 電池".encode())  # the real (interactive) cost
    cases = [(plain, None), (sealed, "correct horse 電池"), (sealed, "wrong"), (sealed, None), (sealed, "")]
    got = strip(run_js([{"op": "load_key_file", "text": t, "password": p} for t, p in cases]))
    assert got == [py_load(t, p) for t, p in cases]
    assert [g.get("error") for g in got] == [
        None, None, "KEY_WRONG_PASSWORD", "KEY_PASSWORD_REQUIRED", "KEY_PASSWORD_REQUIRED",
    ]
    assert got[1]["ok"]["seed"] == k.ed25519_seed.hex()
    infos = run_js([{"op": "public_info", "text": sealed}, {"op": "is_encrypted", "text": sealed},
                    {"op": "is_encrypted", "text": plain}])
    assert infos[0]["ok"] == keys_mod.public_info(sealed)
    assert [infos[1]["ok"], infos[2]["ok"]] == [True, False]


def damaged(text: str) -> list[str]:
    """Key files damaged field by field, as a careless copy or a hostile sender would."""
    doc = json.loads(text)
    out = [text[:-5], "[]", "null", "{}", text.replace("ballotchain-key", "other-key")]
    for field in list(doc):
        d = dict(doc)
        del d[field]
        out.append(json.dumps(d))
        for bad in (None, 0, "", "zz", [], {}, True, 2, "00" * 64):
            d = dict(doc)
            d[field] = bad
            out.append(json.dumps(d))
    for field in ("secret", "ed25519_public", "x25519_public", "node_id", "secret_check"):
        if isinstance(doc.get(field), str) and doc[field]:
            s = doc[field]
            d = dict(doc)
            d[field] = ("1" if s[0] != "1" else "2") + s[1:]
            out.append(json.dumps(d))
            d[field] = s[:2] + " " + s[2:]  # Python's fromhex skips spaces between bytes
            out.append(json.dumps(d))
    enc = doc.get("encryption")
    if isinstance(enc, dict):
        for field in list(enc):
            for bad in (None, "x", 0, 10**12, "1", 3):
                e = dict(enc)
                e[field] = bad
                out.append(json.dumps({**doc, "encryption": e}))
    return out


def test_damaged_key_files_get_the_same_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    k = KeyPair.from_seed(b"\x44" * 32)
    plain = dump_key_file(k)
    sealed = cheap_sealed(k, b"pw", monkeypatch)
    cases = [(t, None) for t in damaged(plain)] + [(t, "pw") for t in damaged(sealed)]
    got = strip(run_js([{"op": "load_key_file", "text": t, "password": p} for t, p in cases]))
    for (t, p), g in zip(cases, got, strict=True):
        assert g == py_load(t, p), t
    codes = {g.get("error") for g in got}
    assert {"KEY_FILE_MALFORMED", "KEY_WRONG_PASSWORD", None} <= codes
