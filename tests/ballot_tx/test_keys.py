"""Key files and signatures."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.errors import ErrorCode, KeyError_
from ballot_tx.keys import KeyPair, dump_key_file, load_key_file, signing_bytes, verify

CHAIN_A = b"A" * 32
CHAIN_B = b"B" * 32


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=100))
def test_sign_verify_binds_kind_chain_and_body(seed: bytes, body: bytes) -> None:
    kp = KeyPair.from_seed(seed)
    sig = kp.sign("tx", CHAIN_A, body)
    assert verify(kp.ed25519_public, "tx", CHAIN_A, body, sig)
    assert not verify(kp.ed25519_public, "tx", CHAIN_B, body, sig)  # other chain
    assert not verify(kp.ed25519_public, "vote", CHAIN_A, body, sig)  # other kind
    assert not verify(kp.ed25519_public, "tx", CHAIN_A, body + b"x", sig)
    other = KeyPair.from_seed(bytes(31) + b"\x01" if seed != bytes(31) + b"\x01" else bytes(32))
    assert not verify(other.ed25519_public, "tx", CHAIN_A, body, sig)


def test_signing_bytes_need_a_32_byte_chain_id() -> None:
    with pytest.raises(ValueError):
        signing_bytes("tx", b"short", b"")


def test_verify_rejects_malformed_inputs() -> None:
    kp = KeyPair.generate()
    assert not verify(b"x" * 31, "tx", CHAIN_A, b"", b"s" * 64)
    assert not verify(kp.ed25519_public, "tx", CHAIN_A, b"", b"s" * 63)
    assert not verify(b"\xff" * 32, "tx", CHAIN_A, b"", b"s" * 64)


def test_plain_key_file_roundtrip() -> None:
    kp = KeyPair.generate()
    back = load_key_file(dump_key_file(kp))
    assert back.ed25519_public == kp.ed25519_public and back.x25519_public == kp.x25519_public


def test_repr_hides_secrets() -> None:
    kp = KeyPair.generate()
    assert kp.ed25519_seed.hex() not in repr(kp) and kp.x25519_secret.hex() not in repr(kp)


def test_encrypted_key_file_roundtrip_and_wrong_password() -> None:
    kp = KeyPair.generate()
    text = dump_key_file(kp, b"correct horse")
    assert kp.ed25519_seed.hex() not in text and kp.x25519_secret.hex() not in text
    assert load_key_file(text, b"correct horse").ed25519_seed == kp.ed25519_seed
    with pytest.raises(KeyError_) as e:
        load_key_file(text, b"wrong")
    assert e.value.code == ErrorCode.KEY_WRONG_PASSWORD
    with pytest.raises(KeyError_) as e:
        load_key_file(text, None)
    assert e.value.code == ErrorCode.KEY_PASSWORD_REQUIRED


@given(st.data())
def test_damaged_plain_file_is_a_clear_error(data: st.DataObject) -> None:
    kp = KeyPair.from_seed(b"\x07" * 32)
    text = dump_key_file(kp)
    i = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.characters(codec="ascii"))
    damaged = text[:i] + ch + text[i + 1 :]
    try:
        back = load_key_file(damaged)
    except KeyError_ as e:
        assert e.code == ErrorCode.KEY_FILE_MALFORMED
    else:  # the edit was harmless (e.g. whitespace, or the same character)
        assert back.ed25519_seed == kp.ed25519_seed and back.x25519_secret == kp.x25519_secret


def test_damaged_ciphertext_reports_wrong_password_or_damage() -> None:
    text = dump_key_file(KeyPair.generate(), b"pw")
    doc = json.loads(text)
    doc["secret"] = ("00" if doc["secret"][:2] != "00" else "11") + doc["secret"][2:]
    with pytest.raises(KeyError_) as e:
        load_key_file(json.dumps(doc), b"pw")
    assert e.value.code == ErrorCode.KEY_WRONG_PASSWORD


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"type": "ballotchain-key", "version": 9}', "not json"])
def test_not_a_key_file(text: str) -> None:
    with pytest.raises(KeyError_) as e:
        load_key_file(text)
    assert e.value.code == ErrorCode.KEY_FILE_MALFORMED
