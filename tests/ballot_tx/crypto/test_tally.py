"""Tally: homomorphic sum, threshold decryption by any t trustees, checked results."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballot_tx.crypto import decryption, summary
from ballot_tx.crypto import group as g
from ballot_tx.crypto import tally as ty
from ballot_tx.crypto.ballot import encrypt_ballot, plaintexts
from ballot_tx.crypto.dlog import dlog
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.manifest import Manifest, Selections, contest_width
from tests.conftest import thorough

from .ceremony import Ceremony, run
from .helpers import CRED, contest, manifest, valid_selections

M = manifest((contest("mayor", "single", 3), contest("council", "multiple", 3, 0, 2),
              contest("pledges", "rating", 2)), n_trustees=5, threshold=3)
VOTES: list[Selections] = [
    ((1, 0, 0), (1, 1, 0), (70, 100)),
    ((0, 1, 0), (0, 0, 0), (70, 0)),
    ((1, 0, 0), (0, 1, 1), (30, 100)),
    ((0, 0, 1), (1, 0, 0), (100, 100)),
]


def expected(m: Manifest, votes: list[Selections]) -> tuple[tuple[int, ...], ...]:
    """The plaintext tally: per contest, per slot, the number of ballots with a 1 there."""
    out = []
    for ci, c in enumerate(m.contests):
        col = [0] * contest_width(c)
        for v in votes:
            for k, p in enumerate(plaintexts(c, v[ci])):
                col[k] += p
        out.append(tuple(col))
    return tuple(out)


@pytest.fixture(scope="module")
def setup() -> tuple[Ceremony, ty.EncryptedTally, list[decryption.DecryptionShare]]:
    cer = run(M)
    ballots = [encrypt_ballot(M, cer.key, CRED, v)[0] for v in VOTES]
    tally = ty.aggregate(M, ballots)
    shares = [decryption.make_decryption_share(M, tally, j, x) for j, x in cer.shares.items()]
    return cer, tally, shares


def test_every_t_subset_decrypts_the_same_correct_tally(setup: Any) -> None:
    cer, tally, shares = setup
    want = expected(M, VOTES)
    for subset in combinations(shares, M.threshold):
        result = decryption.decrypt_tally(M, cer.commitments, tally, list(subset))
        assert result.counts == want
        assert result.ballots == len(VOTES)
        decryption.verify_result(M, cer.commitments, tally, list(subset), result)
    views = summary.summarize(M, result)
    assert views[0].counts == (2, 1, 1)
    assert views[2].histograms[0][7] == 2 and views[2].means[0] == pytest.approx(67.5)


def test_fewer_than_t_trustees_cannot_decrypt(setup: Any) -> None:
    cer, tally, shares = setup
    with pytest.raises(CryptoError) as e:
        decryption.decrypt_tally(M, cer.commitments, tally, shares[: M.threshold - 1])
    assert e.value.code == ErrorCode.CRYPTO_NOT_ENOUGH_SHARES
    with pytest.raises(CryptoError) as e:  # duplicates do not count twice
        decryption.decrypt_tally(M, cer.commitments, tally, [shares[0]] * 3 + [shares[1]])
    assert e.value.code == ErrorCode.CRYPTO_NOT_ENOUGH_SHARES
    # interpolating t-1 shares as if they were enough gives garbage, not the count
    points = decryption.combine(tally, shares[: M.threshold - 1])
    want = expected(M, VOTES)
    assert all(points[0][k] != g.base(g.sc(want[0][k])) for k in range(3))


def test_dishonest_decryption_share_is_caught(setup: Any) -> None:
    cer, tally, shares = setup
    s = shares[1]
    row0 = s.shares[0]
    shifted = replace(s, shares=((g.add(row0[0], g.G), *row0[1:]), *s.shares[1:]))
    swapped = replace(s, proofs=((s.proofs[0][1], s.proofs[0][0], *s.proofs[0][2:]), *s.proofs[1:]))
    other_trustee = replace(s, trustee=3)
    forged = decryption.make_decryption_share(M, tally, 2, cer.shares[2] + 1)  # wrong secret share
    other_tally = replace(s, tally=b"\x00" * 32)
    for bad in [shifted, swapped, other_trustee, forged, other_tally]:
        with pytest.raises(CryptoError) as e:
            decryption.verify_decryption_share(M, cer.commitments, tally, bad)
        assert e.value.code == ErrorCode.CRYPTO_BAD_DECRYPTION_SHARE
        with pytest.raises(CryptoError):
            decryption.decrypt_tally(M, cer.commitments, tally, [shares[0], bad, shares[3]])


def test_wrong_published_result_is_rejected(setup: Any) -> None:
    cer, tally, shares = setup
    result = decryption.decrypt_tally(M, cer.commitments, tally, shares)
    row = result.counts[0]
    for bad in [
        replace(result, counts=((row[0] + 1, *row[1:]), *result.counts[1:])),
        replace(result, counts=((row[1], row[0], row[2]), *result.counts[1:])),
        replace(result, ballots=result.ballots + 1),
        replace(result, trustees=result.trustees[:2]),
        replace(result, trustees=(1, 1, 2)),
        replace(result, tally=b"\x01" * 32),
    ]:
        with pytest.raises(CryptoError) as e:
            decryption.verify_result(M, cer.commitments, tally, shares, bad)
        assert e.value.code == ErrorCode.CRYPTO_BAD_RESULT
    with pytest.raises(CryptoError) as e:  # a named trustee's share is missing
        decryption.verify_result(M, cer.commitments, tally, shares[1:], result)
    assert e.value.code == ErrorCode.CRYPTO_BAD_RESULT


def test_revoting_replaces_a_ballot(setup: Any) -> None:
    cer, _, _ = setup
    first = encrypt_ballot(M, cer.key, CRED, VOTES[0])[0]
    second = encrypt_ballot(M, cer.key, CRED, VOTES[1])[0]
    other = encrypt_ballot(M, cer.key, b"voter 2", VOTES[2])[0]
    t = ty.empty_tally(M)
    for b in (first, other):
        t = ty.add_ballot(t, b)
    t = ty.add_ballot(ty.subtract_ballot(t, first), second)
    assert t == ty.aggregate(M, [other, second])
    assert ty.merge_tallies(M, [ty.aggregate(M, [other]), ty.aggregate(M, [second])]) == t
    assert ty.merge_tallies(M, []) == ty.empty_tally(M)
    shares = [decryption.make_decryption_share(M, t, j, cer.shares[j]) for j in (2, 4, 5)]
    assert decryption.decrypt_tally(M, cer.commitments, t, shares).counts == expected(M, [VOTES[2], VOTES[1]])
    with pytest.raises(CryptoError) as e:
        ty.subtract_ballot(ty.empty_tally(M), first)
    assert e.value.code == ErrorCode.CRYPTO_BAD_TALLY


def test_running_tally_gives_the_bytes_of_one_ballot_at_a_time(setup: Any) -> None:
    """What a block's execution counts into (sums held decoded) is byte for byte what
    ``add_ballot`` / ``subtract_ballot`` give one ballot at a time, refusals included."""
    cer, _, _ = setup
    ballots = [encrypt_ballot(M, cer.key, CRED, v)[0] for v in VOTES]
    stepwise = ty.empty_tally(M)
    running = ty.RunningTally(ty.empty_tally(M))
    for b in ballots:
        stepwise = ty.add_ballot(stepwise, b)
        running.add(b)
        assert running.tally() == stepwise
    for b in ballots[:2]:
        stepwise = ty.subtract_ballot(stepwise, b)
        running.subtract(b)
    assert running.tally() == stepwise == ty.aggregate(M, ballots[2:])
    resumed = ty.RunningTally(stepwise)  # a later block starts from the stored record
    resumed.add(ballots[0])
    assert resumed.tally() == ty.add_ballot(stepwise, ballots[0])

    other = manifest((contest("mayor", "single", 3),), n_trustees=5, threshold=3)
    wrong_shape = replace(ballots[0], contests=ballots[0].contests[:1])
    wrong_election = replace(ballots[0], election_id=ty.election_id(other))
    bad_point = replace(ballots[0], contests=(
        replace(ballots[0].contests[0], ciphertexts=(
            replace(ballots[0].contests[0].ciphertexts[0], beta=b"\xff" * 32),
            *ballots[0].contests[0].ciphertexts[1:])),
        *ballots[0].contests[1:]))
    before = running.tally()
    for bad, code in ((wrong_shape, ErrorCode.CRYPTO_WRONG_SHAPE),
                      (wrong_election, ErrorCode.CRYPTO_WRONG_ELECTION),
                      (bad_point, ErrorCode.CRYPTO_BAD_POINT)):
        for op in (running.add, running.subtract):
            with pytest.raises(CryptoError) as e:
                op(bad)
            assert e.value.code == code
            assert running.tally() == before  # all or nothing
    empty = ty.RunningTally(ty.empty_tally(M))
    with pytest.raises(CryptoError) as e:
        empty.subtract(ballots[0])
    assert e.value.code == ErrorCode.CRYPTO_BAD_TALLY


def test_empty_tally_decrypts_to_zero(setup: Any) -> None:
    cer, _, _ = setup
    t = ty.empty_tally(M)
    shares = [decryption.make_decryption_share(M, t, j, cer.shares[j]) for j in (1, 2, 3)]
    result = decryption.decrypt_tally(M, cer.commitments, t, shares)
    assert all(n == 0 for row in result.counts for n in row)
    decryption.verify_result(M, cer.commitments, t, shares, result)


@given(data=st.data())
@settings(max_examples=200 if thorough() else 8)
def test_random_votes_tally_to_their_sum(data: st.DataObject, setup: Any) -> None:
    cer, _, _ = setup
    votes = data.draw(st.lists(valid_selections(M), min_size=0, max_size=5))
    tally = ty.aggregate(M, [encrypt_ballot(M, cer.key, CRED, v)[0] for v in votes])
    subset = data.draw(st.permutations(sorted(cer.shares)))[: M.threshold]
    shares = [decryption.make_decryption_share(M, tally, j, cer.shares[j]) for j in subset]
    assert decryption.decrypt_tally(M, cer.commitments, tally, shares).counts == expected(M, votes)


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_dlog_is_exact_and_bounded(m: int, bound: int) -> None:
    p = g.base(g.sc(m))
    if m <= bound:
        assert dlog(p, bound) == m
    else:
        with pytest.raises(CryptoError) as e:
            dlog(p, bound)
        assert e.value.code == ErrorCode.CRYPTO_DLOG_OUT_OF_RANGE


@given(data=st.data())
@settings(max_examples=200 if thorough() else 10)
def test_any_threshold_configuration(data: st.DataObject) -> None:
    """For random n and t: a random t-subset decrypts correctly, t-1 shares cannot."""
    n = data.draw(st.integers(1, 5), label="n")
    t = data.draw(st.integers(1, n), label="t")
    m = manifest((contest("mayor", "single", 2), contest("p", "rating", 1)), n_trustees=n, threshold=t)
    cer = run(m)
    votes = data.draw(st.lists(valid_selections(m), max_size=3))
    tally = ty.aggregate(m, [encrypt_ballot(m, cer.key, CRED, v)[0] for v in votes])
    order = data.draw(st.permutations(range(1, n + 1)))
    shares = [decryption.make_decryption_share(m, tally, j, cer.shares[j]) for j in order[:t]]
    result = decryption.decrypt_tally(m, cer.commitments, tally, shares)
    assert result.counts == expected(m, votes)
    decryption.verify_result(m, cer.commitments, tally, shares, result)
    with pytest.raises(CryptoError) as e:
        decryption.decrypt_tally(m, cer.commitments, tally, shares[:-1])
    assert e.value.code == ErrorCode.CRYPTO_NOT_ENOUGH_SHARES


def test_disqualified_dealer_still_decrypts_with_the_others() -> None:
    """A dealer dropped for an unanswered complaint no longer contributes to the key,
    but still holds a share of it and can take part in decryption."""
    from ballot_tx.crypto import trustees as tr

    from .helpers import trustee_keys

    m = manifest((contest("mayor", "single", 2),), n_trustees=4, threshold=2)
    keys = trustee_keys(4)
    coeffs = {i: tr.polynomial(m, i, keys[i - 1]) for i in range(1, 5)}
    commits = [tr.make_commitment(m, i, coeffs[i]) for i in range(1, 5)]
    q = tr.qualified(m, commits, [tr.make_complaint(m, dealer=2, accuser=3)])
    assert [c.index for c in q] == [1, 3, 4]
    received = {j: {i: tr.evaluate(coeffs[i], j) for i in (1, 3, 4) if i != j} for j in range(1, 5)}
    xs = {j: tr.combined_share(m, j, coeffs[j], received[j], q) for j in range(1, 5)}
    key = tr.joint_key(q)
    assert key == g.base(g.sc(coeffs[1][0] + coeffs[3][0] + coeffs[4][0]))
    tally = ty.aggregate(m, [encrypt_ballot(m, key, CRED, ((0, 1),))[0]])
    shares = [decryption.make_decryption_share(m, tally, j, xs[j]) for j in (2, 4)]
    assert decryption.decrypt_tally(m, q, tally, shares).counts == ((0, 1),)


@given(data=st.data())
def test_damaged_decryption_share_bytes_are_rejected_cleanly(data: st.DataObject, setup: Any) -> None:
    """Random byte damage to an encoded decryption share: a BallotchainError, never a crash,
    and never an accepted share that differs from the original."""
    from ballot_tx.codec import decode, encode
    from ballot_tx.errors import BallotchainError

    cer, tally, shares = setup
    raw = bytearray(encode(shares[0]))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        damaged = decode(decryption.DecryptionShare, bytes(raw))
    except BallotchainError:
        return
    if damaged != shares[0]:
        with pytest.raises(BallotchainError):
            decryption.verify_decryption_share(M, cer.commitments, tally, damaged)


def test_lagrange_refuses_duplicate_and_zero_indices() -> None:
    """A repeated index was skipped in the products and index 0 zeroed the other weights:
    both gave silently wrong interpolation (issue 11 item 8)."""
    coeffs = (11, 22, 33)  # f(x) = 11 + 22x + 33x^2, f(0) = 11
    lams = decryption.lagrange_at_zero([1, 3, 4])
    assert sum(lam * (11 + 22 * j + 33 * j * j) for lam, j in zip(lams, [1, 3, 4], strict=True)) % g.L == coeffs[0]
    for bad in ([1, 1, 2], [2, 3, 2], [0, 1, 2], [0], [-1, 2, 3], [1, 2, g.L]):
        with pytest.raises(CryptoError) as e:
            decryption.lagrange_at_zero(bad)
        assert e.value.code == ErrorCode.CRYPTO_BAD_INDICES, bad


def test_combine_refuses_a_trustee_twice_or_index_zero(setup: Any) -> None:
    _, tally, shares = setup
    for bad in ([shares[0], shares[0], shares[1]], [replace(shares[0], trustee=0), shares[1], shares[2]]):
        with pytest.raises(CryptoError) as e:
            decryption.combine(tally, bad)
        assert e.value.code == ErrorCode.CRYPTO_BAD_INDICES
    assert decryption.combine(tally, shares[:3]) == decryption.combine(tally, [shares[2], shares[0], shares[1]])
