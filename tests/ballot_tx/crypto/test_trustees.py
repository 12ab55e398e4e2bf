"""Key ceremony: shares check out, cheating dealers are caught, honest ones cannot be framed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ballot_tx.crypto import group as g
from ballot_tx.crypto import trustees as tr
from ballot_tx.errors import CryptoError, ErrorCode

from .ceremony import run
from .helpers import contest, manifest

M = manifest((contest("mayor", "single", 3),), n_trustees=4, threshold=3)


@pytest.fixture(scope="module")
def cer():  # type: ignore[no-untyped-def]
    return run(M)


def test_joint_key_and_verification_keys(cer) -> None:  # type: ignore[no-untyped-def]
    assert cer.key == g.base(g.sc(cer.secret))
    for j, x in cer.shares.items():
        assert tr.verification_key(cer.commitments, j) == g.base(g.sc(x))
    assert len(cer.commitments) == 4


def test_polynomial_is_recomputable_and_bound_to_election(cer) -> None:  # type: ignore[no-untyped-def]
    assert tr.polynomial(M, 1, cer.keys[0]) == cer.coeffs[1]
    other = replace(M, nonce=b"\x05" * 32)
    assert tr.polynomial(other, 1, cer.keys[0]) != cer.coeffs[1]


def test_bad_commitments_are_rejected(cer) -> None:  # type: ignore[no-untyped-def]
    c = cer.commitments[0]
    cases = [
        replace(c, commitments=c.commitments[:2], proofs=c.proofs[:2]),
        replace(c, commitments=(c.commitments[1], c.commitments[0], c.commitments[2])),
        replace(c, proofs=(c.proofs[1], c.proofs[0], c.proofs[2])),
        replace(c, index=2),  # copied under another trustee's index: proofs are bound to it
        replace(c, commitments=(b"\xff" * 32, *c.commitments[1:])),
        replace(c, proofs=(replace(c.proofs[0], z=g.sc(1)), *c.proofs[1:])),
    ]
    for bad in cases:
        with pytest.raises(CryptoError) as e:
            tr.verify_commitment(M, bad)
        assert e.value.code == ErrorCode.CRYPTO_BAD_COMMITMENT
    with pytest.raises(CryptoError) as e:
        tr.verify_commitment(replace(M, nonce=b"\x01" * 32), c)
    assert e.value.code == ErrorCode.CRYPTO_WRONG_ELECTION
    # an invalid commitment disqualifies its dealer
    q = tr.qualified(M, [cases[0], *cer.commitments[1:]])
    assert [x.index for x in q] == [2, 3, 4]


def test_cheating_dealer_is_caught_and_honest_dealer_cannot_be_framed(cer) -> None:  # type: ignore[no-untyped-def]
    k1, k2 = cer.keys[0], cer.keys[1]
    c1 = cer.commitments[0]
    # dealer 1 cheats on trustee 2: a share off by one, correctly boxed
    bad_coeffs = (cer.coeffs[1][0] + 1, *cer.coeffs[1][1:])
    bad_box = next(s for s in tr.make_shares(M, 1, k1, bad_coeffs, c1) if s.recipient == 2)
    with pytest.raises(CryptoError) as e:
        tr.open_share(M, k2, c1, bad_box)
    assert e.value.code == ErrorCode.CRYPTO_BAD_SHARE
    complaint = tr.make_complaint(M, dealer=1, accuser=2)
    # no answer, or a wrong answer: dealer 1 is disqualified
    assert 1 not in [c.index for c in tr.qualified(M, cer.commitments, [complaint])]
    wrong = tr.make_reveal(M, 1, bad_coeffs, 2)
    with pytest.raises(CryptoError):
        tr.verify_reveal(M, c1, wrong)
    assert 1 not in [c.index for c in tr.qualified(M, cer.commitments, [complaint], [wrong])]
    # an honest answer keeps the dealer and gives the accuser its share
    right = tr.make_reveal(M, 1, cer.coeffs[1], 2)
    assert tr.verify_reveal(M, c1, right) == tr.evaluate(cer.coeffs[1], 2)
    assert 1 in [c.index for c in tr.qualified(M, cer.commitments, [complaint], [right])]
    # a reveal for another recipient does not answer this complaint
    other = tr.make_reveal(M, 1, cer.coeffs[1], 3)
    assert 1 not in [c.index for c in tr.qualified(M, cer.commitments, [complaint], [other])]


def test_tampered_or_misdirected_boxes_are_rejected(cer) -> None:  # type: ignore[no-untyped-def]
    k1, k2, k3 = cer.keys[0], cer.keys[1], cer.keys[2]
    c1 = cer.commitments[0]
    box = next(s for s in tr.make_shares(M, 1, k1, cer.coeffs[1], c1) if s.recipient == 2)
    assert tr.open_share(M, k2, c1, box) == tr.evaluate(cer.coeffs[1], 2)
    flipped = replace(box, box=box.box[:30] + bytes([box.box[30] ^ 1]) + box.box[31:])
    for bad, keys, code in [
        (flipped, k2, ErrorCode.CRYPTO_BAD_SHARE),
        (box, k3, ErrorCode.CRYPTO_WRONG_SHAPE),
        (replace(box, recipient=3), k3, ErrorCode.CRYPTO_BAD_SHARE),
        (replace(box, sender=3), k2, ErrorCode.CRYPTO_WRONG_SHAPE),
    ]:
        with pytest.raises(CryptoError) as e:
            tr.open_share(M, keys, c1, bad)
        assert e.value.code == code


def test_single_trustee_election() -> None:
    m = manifest((contest("mayor", "single", 2),), n_trustees=1, threshold=1)
    c = run(m)
    assert c.key == g.base(g.sc(c.secret))
    assert c.shares[1] == c.secret


def test_complaints_that_no_trustee_could_make_are_ignored(cer) -> None:  # type: ignore[no-untyped-def]
    for comp in [
        tr.ShareComplaint(b"\x00" * 32, 1, 2),  # other election
        tr.make_complaint(M, dealer=1, accuser=1),  # self-accusation
        tr.make_complaint(M, dealer=1, accuser=9),  # not a trustee
    ]:
        assert [c.index for c in tr.qualified(M, cer.commitments, [comp])] == [1, 2, 3, 4]


def test_mutated_ceremony_messages_never_crash(cer) -> None:  # type: ignore[no-untyped-def]
    """Every single-byte change of an encoded commitment or share is either rejected by the
    codec or by the checks, with a BallotchainError -- never another exception."""
    from ballot_tx.codec import decode, encode
    from ballot_tx.errors import BallotchainError

    c1 = cer.commitments[0]
    box = next(s for s in tr.make_shares(M, 1, cer.keys[0], cer.coeffs[1], c1) if s.recipient == 2)
    for obj, check in [
        (c1, lambda o: tr.verify_commitment(M, o)),
        (box, lambda o: tr.open_share(M, cer.keys[1], c1, o)),
    ]:
        data = encode(obj)
        for pos in range(0, len(data), 3):
            bad = data[:pos] + bytes([data[pos] ^ 0x41]) + data[pos + 1 :]
            try:
                check(decode(type(obj), bad))
            except BallotchainError:
                continue
            # the only accepted mutation would be a no-op on the decoded value
            assert decode(type(obj), bad) == obj


def test_complaint_upheld_is_decidable_from_the_record(cer) -> None:  # type: ignore[no-untyped-def]
    c1 = cer.commitments[0]
    comp = tr.make_complaint(M, dealer=1, accuser=3)
    right = tr.make_reveal(M, 1, cer.coeffs[1], 3)
    wrong = replace(right, share=g.sc(tr.evaluate(cer.coeffs[1], 3) + 1))
    assert tr.complaint_upheld(M, c1, comp, [])
    assert tr.complaint_upheld(M, c1, comp, [wrong])
    assert not tr.complaint_upheld(M, c1, comp, [wrong, right])
    assert not tr.complaint_upheld(M, cer.commitments[1], comp, [])  # not this dealer's
