"""One point, one encoding (issue 11 item 4): RFC 9496 decoding, enforced on every wire point.

rbcl bundles libsodium 1.0.18, whose ``is_valid_point`` ignores bit 255, so every point
had a second encoding the chain accepted while the voting page refused it. The attacks
below are built with the project's own API (a voter re-proving its own ballot over the
second encoding, a trustee re-proving its commitment) and must be refused.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.crypto import decryption
from ballot_tx.crypto import group as g
from ballot_tx.crypto import tally as ty
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.ballot import encrypt_ballot, verify_ballot
from ballot_tx.crypto.proofs import ChaumPedersenProof
from ballot_tx.crypto.sodium import _sodium
from ballot_tx.crypto.trustees import polynomial, verify_commitment
from ballot_tx.errors import CryptoError, ErrorCode

from .ceremony import run
from .helpers import (
    CRED,
    KEY,
    contest,
    forge_top_bit_ballot,
    forge_top_bit_commitment,
    manifest,
    trustee_keys,
    with_top_bit,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "crypto" / "point_encodings.json").read_text()
)
M = manifest((contest("mayor", "single", 3), contest("council", "multiple", 4, 1, 2), contest("pledges", "rating", 2)))
SEL = ((0, 1, 0), (1, 1, 0, 0), (70, 100))


def code_of(p: bytes, allow_identity: bool = False) -> str:
    try:
        g.point(p, "p", allow_identity)
    except CryptoError as e:
        return str(e.code)
    return "ok"


def test_vector_file_holds_the_rfc_cases() -> None:
    reasons = [v["reason"] for v in VECTORS["invalid"]]
    assert sum(r.startswith("RFC 9496 A.2") for r in reasons) == 29
    assert sum("bit 255" in r for r in reasons) >= 16
    assert len(VECTORS["valid"]) == 15


def test_valid_encodings_are_accepted_and_are_the_small_multiples() -> None:
    for k, v in enumerate(VECTORS["valid"], start=1):
        p = bytes.fromhex(v["hex"])
        assert code_of(p) == "ok", v
        assert g.is_point(p)
        assert g.base(g.sc(k)) == p


def test_identity_only_where_allowed() -> None:
    ident = bytes.fromhex(VECTORS["identity"])
    assert code_of(ident) == "CRYPTO_BAD_POINT"
    assert code_of(ident, allow_identity=True) == "ok"


def test_every_invalid_encoding_is_refused() -> None:
    for v in VECTORS["invalid"]:
        p = bytes.fromhex(v["hex"])
        assert code_of(p) == "CRYPTO_BAD_POINT", v
        assert code_of(p, allow_identity=True) == "CRYPTO_BAD_POINT", v
        assert not g.is_point(p)


def test_libsodium_already_refuses_all_but_bit_255() -> None:
    """We add only the missing check: every invalid vector with bit 255 clear is
    refused by the bundled libsodium itself."""
    for v in VECTORS["invalid"]:
        p = bytes.fromhex(v["hex"])
        if not p[31] & 0x80:
            assert _sodium.crypto_core_ristretto255_is_valid_point(p) == 0, v


def test_second_encoding_of_a_point_is_refused() -> None:
    for p in (g.G, g.base(g.sc(12345)), g.hash_to_point("test", b"x")):
        assert code_of(p) == "ok"
        assert code_of(with_top_bit(p)) == "CRYPTO_BAD_POINT"
        # the same group element to libsodium: the reason the check must be explicit
        assert g.add(with_top_bit(p), g.IDENTITY) == p


def test_voter_ballot_reproved_over_a_second_encoding_is_refused() -> None:
    forged = forge_top_bit_ballot(M, KEY, CRED, SEL)
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, KEY, CRED, forged)
    assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    assert "contest 0 ciphertext 0.alpha" in e.value.message


def test_trustee_commitment_reproved_over_a_second_encoding_is_refused() -> None:
    coeffs = polynomial(M, 2, trustee_keys(3)[1])
    for k in range(M.threshold):
        with pytest.raises(CryptoError) as e:
            verify_commitment(M, forge_top_bit_commitment(M, 2, coeffs, k))
        assert e.value.code == ErrorCode.CRYPTO_BAD_COMMITMENT
        assert f"commitment {k} is not a canonical" in e.value.message


def test_election_key_with_bit_255_is_refused() -> None:
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, with_top_bit(KEY), CRED, forge_top_bit_ballot(M, KEY, CRED, SEL))
    assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    assert "election key" in e.value.message


def test_decryption_share_reproved_over_a_second_encoding_is_refused() -> None:
    """A trustee's genuine share with ``M`` re-encoded (bit 255) and its Chaum-Pedersen
    proof re-made over those bytes with the trustee's own secret share."""
    cer = run(M)
    tally = ty.aggregate(M, [encrypt_ballot(M, cer.key, CRED, SEL)[0]])
    x = cer.shares[1]
    share = decryption.make_decryption_share(M, tally, 1, x)
    decryption.verify_decryption_share(M, cer.commitments, tally, share)
    alpha = tally.contests[0][0].alpha
    big_m = with_top_bit(share.shares[0][0])
    ctx = decryption.share_context(tally.election_id, share.tally, 1)
    w = g.hash_to_scalar("test/forge-nonce", ctx)
    c = g.hash_to_scalar("crypto/dleq", ctx, tr.verification_key(cer.commitments, 1), alpha, big_m,
                         g.base(g.sc(w)), g.mul(g.sc(w), alpha))
    proof = ChaumPedersenProof(g.sc(c), g.sc(w + c * x))
    forged = replace(share, shares=((big_m, *share.shares[0][1:]), *share.shares[1:]),
                     proofs=((proof, *share.proofs[0][1:]), *share.proofs[1:]))
    with pytest.raises(CryptoError) as e:
        decryption.verify_decryption_share(M, cer.commitments, tally, forged)
    assert e.value.code == ErrorCode.CRYPTO_BAD_DECRYPTION_SHARE
    assert "contest 0 slot 0 is not a canonical" in e.value.message
