"""Ballots: valid votes verify; invalid votes cannot be proven; any tampering is caught."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ballot_tx.codec import decode, encode, from_plain, to_plain
from ballot_tx.crypto import elgamal
from ballot_tx.crypto import group as g
from ballot_tx.crypto.ballot import (
    BallotSecrets,
    EncryptedBallot,
    EncryptedContest,
    SpoiledBallot,
    ballot_context,
    encrypt_ballot,
    plaintexts,
    sum_ranges,
    verify_ballot,
    verify_spoiled,
)
from ballot_tx.crypto.proofs import prove_branch
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.manifest import Manifest, Selections, election_id

from .helpers import CRED, KEY, SECRET, contest, manifest, manifests, valid_selections

M = manifest((contest("mayor", "single", 3), contest("council", "multiple", 4, 1, 2),
              contest("pledges", "rating", 2)))
SEL: Selections = ((0, 1, 0), (1, 0, 0, 1), (70, 100))


@pytest.fixture(scope="module")
def cast() -> tuple[EncryptedBallot, BallotSecrets]:
    return encrypt_ballot(M, KEY, CRED, SEL, seed=b"\x01" * 32)


def test_ballot_verifies_and_decrypts_to_the_selections(cast: Any) -> None:
    ballot, secrets = cast
    verify_ballot(M, KEY, CRED, ballot)
    assert decode(EncryptedBallot, encode(ballot)) == ballot
    # with the whole key (which nobody holds) each ciphertext opens to the plaintext layout
    for c, ec, sel in zip(M.contests, ballot.contests, SEL, strict=True):
        got = [elgamal.decrypt_point(ct, SECRET) for ct in ec.ciphertexts]
        assert got == [g.small_multiple(p) if p else g.IDENTITY for p in plaintexts(c, sel)]
    assert verify_spoiled(M, KEY, CRED, ballot, secrets) == SEL
    sb = decode(SpoiledBallot, encode(SpoiledBallot(ballot, secrets)))
    assert verify_spoiled(M, KEY, CRED, sb.ballot, sb.secrets) == SEL


def test_selections_may_be_lists_as_parsed_from_json() -> None:
    as_lists = [list(x) for x in SEL]
    assert encrypt_ballot(M, KEY, CRED, as_lists, seed=b"\x03" * 32) == encrypt_ballot(  # type: ignore[arg-type]
        M, KEY, CRED, SEL, seed=b"\x03" * 32
    )
    for bad in ["abc", [[True, False, False], [1, 0, 0, 1], [70, 100]], [[0, 1, 0], [1, 0, 0, 1], [70.0, 100]], None]:
        with pytest.raises(CryptoError) as e:
            encrypt_ballot(M, KEY, CRED, bad)  # type: ignore[arg-type]
        assert e.value.code == ErrorCode.CRYPTO_BAD_SELECTION


def test_seed_makes_encryption_deterministic_and_random_otherwise() -> None:
    a = encrypt_ballot(M, KEY, CRED, SEL, seed=b"\x02" * 32)
    assert a == encrypt_ballot(M, KEY, CRED, SEL, seed=b"\x02" * 32)
    r1, _ = encrypt_ballot(M, KEY, CRED, SEL)
    r2, _ = encrypt_ballot(M, KEY, CRED, SEL)
    assert r1 != r2
    verify_ballot(M, KEY, CRED, r1)


@given(data=st.data())
def test_valid_ballots_verify_for_random_manifests(data: st.DataObject) -> None:
    m = data.draw(manifests())
    sel = data.draw(valid_selections(m))
    ballot, secrets = encrypt_ballot(m, KEY, CRED, sel)
    verify_ballot(m, KEY, CRED, ballot)
    assert verify_spoiled(m, KEY, CRED, ballot, secrets) == sel


# --- invalid selections ---------------------------------------------------------------

INVALID: list[Selections] = [
    ((0, 2, 0), (1, 0, 0, 1), (70, 100)),  # 2 in a 0/1 slot
    ((1, 1, 0), (1, 0, 0, 1), (70, 100)),  # two choices in a single-choice contest
    ((0, 0, 0), (1, 0, 0, 1), (70, 100)),  # no choice in a single-choice contest
    ((0, 1, 0), (1, 1, 1, 0), (70, 100)),  # too many in a multiple-choice contest
    ((0, 1, 0), (0, 0, 0, 0), (70, 100)),  # too few
    ((0, 1, 0), (1, 0, 0, 1), (55, 100)),  # rating off the 10-step grid
    ((0, 1, 0), (1, 0, 0, 1), (70, 110)),  # rating above 100
    ((0, 1, 0), (1, 0, 0, 1), (-10, 100)),  # negative
    ((0, -1, 0), (1, 0, 0, 1), (70, 100)),
    ((0, 1), (1, 0, 0, 1), (70, 100)),  # wrong shape
    ((0, 1, 0), (1, 0, 0, 1)),
]


@pytest.mark.parametrize("sel", INVALID)
def test_encrypt_refuses_invalid_selections(sel: Selections) -> None:
    with pytest.raises(CryptoError) as e:
        encrypt_ballot(M, KEY, CRED, sel)
    assert e.value.code == ErrorCode.CRYPTO_BAD_SELECTION


def raw_plaintexts(m: Manifest, sel: Selections) -> list[list[int]]:
    """Plaintexts a cheating client would encrypt. One-hot cannot express an off-grid
    rating, so a cheat must break the layout: 55 -> 1s at levels 50 and 60 (two
    ratings), 110 or -10 -> a 2 in the nearest slot (double weight)."""
    out = []
    for c, s in zip(m.contests, sel, strict=True):
        if c.kind != "rating":
            out.append(list(s))
            continue
        p: list[int] = []
        for v in s:
            levels = [0] * 11
            if v % 10 == 0 and 0 <= v <= 100:
                levels[v // 10] = 1
            elif 0 <= v <= 100:
                levels[v // 10] = levels[v // 10 + 1] = 1
            else:
                levels[10 if v > 100 else 0] = 2
            p += levels
        out.append(p)
    return out


def forge_ballot(m: Manifest, sel: Selections, pts: list[list[int]], seed: int) -> EncryptedBallot:
    """A cheating voter: encrypts ``pts`` and, for every proof whose true value is out of
    range, runs the prover pretending the value is each allowed branch in turn (``seed``)."""
    eid = election_id(m)
    cts, rs = [], []
    for ci, p in enumerate(pts):
        r = [g.hash_to_scalar("test", bytes([ci, j])) for j in range(len(p))]
        cts.append([elgamal.encrypt(KEY, v % g.L, x) for v, x in zip(p, r, strict=True)])
        rs.append(r)
    bare = tuple(EncryptedContest(tuple(x), (), ()) for x in cts)
    ctx = ballot_context(eid, KEY, CRED, bare)
    out = []
    for c, cl, r, p in zip(m.contests, cts, rs, pts, strict=True):
        def prove(ct: elgamal.Ciphertext, v: int, x: int, lo: int, hi: int) -> Any:
            branch = v - lo if lo <= v <= hi else seed % (hi - lo + 1)
            return prove_branch(ct, KEY, branch, x, lo, hi, ctx, b"\x09" * 32)

        bits = tuple(prove(ct, v, x, 0, 1) for ct, v, x in zip(cl, p, r, strict=True))
        sums = tuple(
            prove(elgamal.sum_ciphertexts(cl[s : s + n]), sum(p[s : s + n]), sum(r[s : s + n]), lo, hi)
            for s, n, lo, hi in sum_ranges(c)
        )
        out.append(EncryptedContest(tuple(cl), bits, sums))
    return EncryptedBallot(eid, tuple(out))


def test_forger_reproduces_honest_ballots() -> None:
    """The forger is a faithful prover: on a valid vote its ballot verifies."""
    verify_ballot(M, KEY, CRED, forge_ballot(M, SEL, raw_plaintexts(M, SEL), 0))


@pytest.mark.parametrize("sel", [s for s in INVALID if len(s) == 3 and len(s[0]) == 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_hand_built_ballot_for_invalid_selection_does_not_verify(sel: Selections, seed: int) -> None:
    ballot = forge_ballot(M, sel, raw_plaintexts(M, sel), seed)
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, KEY, CRED, ballot)
    assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF


# --- tampering ---------------------------------------------------------------------------


def _leaves(plain: Any, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    if isinstance(plain, list):
        return [p for i, x in enumerate(plain) for p in _leaves(x, (*path, i))]
    return [path] if isinstance(plain, bytes) else []


def _set(plain: Any, path: tuple[int, ...], value: Any) -> None:
    for i in path[:-1]:
        plain = plain[i]
    plain[path[-1]] = value


def _get(plain: Any, path: tuple[int, ...]) -> Any:
    for i in path:
        plain = plain[i]
    return plain


@given(data=st.data())
def test_any_mutated_byte_field_fails(data: st.DataObject, cast: Any) -> None:
    ballot, _ = cast
    plain = to_plain(ballot)
    path = data.draw(st.sampled_from(_leaves(plain)))
    old = _get(plain, path)
    how = data.draw(st.sampled_from(["flip", "random-point", "swap"]))
    if how == "flip":
        pos = data.draw(st.integers(0, len(old) - 1))
        bit = data.draw(st.integers(0, 7))
        new = old[:pos] + bytes([old[pos] ^ (1 << bit)]) + old[pos + 1 :]
    elif how == "random-point":
        new = g.hash_to_point("test", data.draw(st.binary(min_size=1, max_size=8)))
    else:
        other = _get(plain, data.draw(st.sampled_from(_leaves(plain))))
        new = other if other != old else g.sc(g.sc_int(old) + 1 if len(old) == 32 else 0)
    _set(plain, path, new)
    mutated = from_plain(EncryptedBallot, plain)
    with pytest.raises(CryptoError):
        verify_ballot(M, KEY, CRED, mutated)


def test_binding_to_voter_election_and_key(cast: Any) -> None:
    ballot, _ = cast
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, KEY, b"another voter", ballot)
    assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF
    other = replace(M, nonce=b"\x01" * 32)
    with pytest.raises(CryptoError) as e:
        verify_ballot(other, KEY, CRED, ballot)
    assert e.value.code == ErrorCode.CRYPTO_WRONG_ELECTION
    with pytest.raises(CryptoError) as e:  # relabelled for the other election: proofs fail
        verify_ballot(other, KEY, CRED, replace(ballot, election_id=election_id(other)))
    assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, g.base(g.sc(7)), CRED, ballot)
    assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF


def test_reordered_or_dropped_parts_fail(cast: Any) -> None:
    ballot, _ = cast
    c0 = ballot.contests[0]
    swapped = replace(c0, ciphertexts=(c0.ciphertexts[1], c0.ciphertexts[0], c0.ciphertexts[2]),
                      bit_proofs=(c0.bit_proofs[1], c0.bit_proofs[0], c0.bit_proofs[2]))
    for bad, code in [
        (replace(ballot, contests=(swapped, *ballot.contests[1:])), ErrorCode.CRYPTO_BAD_PROOF),
        (replace(ballot, contests=ballot.contests[:2]), ErrorCode.CRYPTO_WRONG_SHAPE),
        (replace(ballot, contests=(replace(c0, sum_proofs=()), *ballot.contests[1:])),
         ErrorCode.CRYPTO_WRONG_SHAPE),
        (replace(ballot, contests=(replace(c0, ciphertexts=c0.ciphertexts[:2]), *ballot.contests[1:])),
         ErrorCode.CRYPTO_WRONG_SHAPE),
    ]:
        with pytest.raises(CryptoError) as e:
            verify_ballot(M, KEY, CRED, bad)
        assert e.value.code == code


def test_non_canonical_point_and_scalar_have_clear_codes(cast: Any) -> None:
    ballot, _ = cast
    c0 = ballot.contests[0]
    ct = c0.ciphertexts[0]
    bad_ct = replace(ct, alpha=b"\xff" * 32)
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, KEY, CRED, replace(ballot, contests=(
            replace(c0, ciphertexts=(bad_ct, *c0.ciphertexts[1:])), *ballot.contests[1:])))
    assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    pr = c0.bit_proofs[0]
    big = g.sc_int(pr.z[0]) + g.L  # same value mod L, non-canonical encoding
    if big < 2**256:
        bad_pr = replace(pr, z=(big.to_bytes(32, "little"), pr.z[1]))
        with pytest.raises(CryptoError) as e:
            verify_ballot(M, KEY, CRED, replace(ballot, contests=(
                replace(c0, bit_proofs=(bad_pr, *c0.bit_proofs[1:])), *ballot.contests[1:])))
        assert e.value.code == ErrorCode.CRYPTO_BAD_SCALAR
    with pytest.raises(CryptoError) as e:
        verify_ballot(M, g.IDENTITY, CRED, ballot)
    assert e.value.code == ErrorCode.CRYPTO_BAD_POINT


def test_spoiled_ballot_with_wrong_reveal_is_rejected(cast: Any) -> None:
    ballot, secrets = cast
    lie = replace(secrets, selections=((1, 0, 0), *secrets.selections[1:]))
    with pytest.raises(CryptoError) as e:
        verify_spoiled(M, KEY, CRED, ballot, lie)
    assert e.value.code == ErrorCode.CRYPTO_SPOILED_MISMATCH
    bad_nonce = replace(secrets, nonces=((g.sc(5), *secrets.nonces[0][1:]), *secrets.nonces[1:]))
    with pytest.raises(CryptoError) as e:
        verify_spoiled(M, KEY, CRED, ballot, bad_nonce)
    assert e.value.code == ErrorCode.CRYPTO_SPOILED_MISMATCH
    invalid = replace(secrets, selections=((0, 2, 0), *secrets.selections[1:]))
    with pytest.raises(CryptoError) as e:
        verify_spoiled(M, KEY, CRED, ballot, invalid)
    assert e.value.code == ErrorCode.CRYPTO_SPOILED_MISMATCH


def test_operation_count_of_verification_is_what_the_bench_assumes(
    cast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify_ballot_mults`` is the yardstick of scripts/bench_crypto: count for real."""
    from ballot_tx.crypto import proofs
    from ballot_tx.crypto.ballot import verify_ballot_mults

    counts = {"base": 0, "mul": 0, "add": 0}

    def counting(name: str, fn: Any) -> Any:
        def wrapped(*a: Any) -> Any:
            counts[name] += 1
            return fn(*a)
        return wrapped

    monkeypatch.setattr(proofs, "_fbase", counting("base", proofs._fbase))
    monkeypatch.setattr(proofs, "_fmul", counting("mul", proofs._fmul))
    monkeypatch.setattr(proofs, "_fsub", counting("add", proofs._fsub))
    monkeypatch.setattr(g, "add", counting("add", g.add))
    sum_points = g.sum_points

    def counting_sum(points: Any) -> bytes:  # n points summed = n - 1 additions
        counts["add"] += max(len(points) - 1, 0)
        return sum_points(points)

    monkeypatch.setattr(g, "sum_points", counting_sum)
    ballot, _ = cast
    verify_ballot(M, KEY, CRED, ballot)
    assert (counts["base"], counts["mul"], counts["add"]) == verify_ballot_mults(M)


@given(cred=st.binary(min_size=1, max_size=64), nonce=st.binary(min_size=32, max_size=32))
def test_ballot_is_bound_to_its_voter_and_election(cred: bytes, nonce: bytes, cast: Any) -> None:
    ballot, _ = cast
    if cred != CRED:
        with pytest.raises(CryptoError) as e:
            verify_ballot(M, KEY, cred, ballot)
        assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF
    other = replace(M, nonce=nonce)
    if other != M:
        with pytest.raises(CryptoError):
            verify_ballot(other, KEY, CRED, replace(ballot, election_id=election_id(other)))


@given(data=st.data())
def test_corrupted_ballot_bytes_are_rejected_cleanly(data: st.DataObject, cast: Any) -> None:
    """Random byte damage to an encoded ballot: a CodecError or CryptoError, never a crash."""
    from ballot_tx.errors import BallotchainError

    ballot, _ = cast
    raw = bytearray(encode(ballot))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        damaged = decode(EncryptedBallot, bytes(raw))
    except BallotchainError:
        return
    if damaged == ballot:
        return
    with pytest.raises(BallotchainError):
        verify_ballot(M, KEY, CRED, damaged)


@st.composite
def invalid_vote(draw: st.DrawFn) -> tuple[Manifest, Selections]:
    """A random manifest and a vote on it broken in one contest."""
    from ballot_tx.manifest import check_selections

    m = draw(manifests())
    sel = [list(s) for s in draw(valid_selections(m))]
    ci = draw(st.integers(0, len(m.contests) - 1))
    c = m.contests[ci]
    k = draw(st.integers(0, len(c.options) - 1))
    if c.kind == "rating":
        sel[ci][k] = draw(st.sampled_from([5, 55, 95, 110, 200, -10]))
    else:
        how = draw(st.sampled_from(["value", "flip"]))
        if how == "value":
            sel[ci][k] = draw(st.sampled_from([2, 3, -1]))
        else:
            sel[ci][k] ^= 1
    vote = tuple(tuple(s) for s in sel)
    try:
        check_selections(m, vote)
    except CryptoError:
        return m, vote
    assume(False)  # the flip happened to give another valid vote
    raise AssertionError("unreachable")


@given(case=invalid_vote(), seed=st.integers(0, 10))
def test_invalid_votes_cannot_be_encrypted_or_forged(case: tuple[Manifest, Selections], seed: int) -> None:
    m, vote = case
    with pytest.raises(CryptoError) as e:
        encrypt_ballot(m, KEY, CRED, vote)
    assert e.value.code == ErrorCode.CRYPTO_BAD_SELECTION
    with pytest.raises(CryptoError) as e:
        verify_ballot(m, KEY, CRED, forge_ballot(m, vote, raw_plaintexts(m, vote), seed))
    assert e.value.code == ErrorCode.CRYPTO_BAD_PROOF
