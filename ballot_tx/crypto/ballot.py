"""Encrypted ballots: encryption, validity proofs, verification, Benaloh audit.

Encoding of a vote (``manifest.Selections``) into plaintexts, per contest:

* single / multiple: one ciphertext per option, plaintext 0 or 1;
* rating: one ciphertext per (item, level), item-major: ciphertext ``11*i + l``
  encrypts 1 iff item ``i`` was rated ``10*l``, else 0 ("one-hot").

Why one-hot for ratings: the tally then holds, per item, how many voters gave each
level -- a histogram, from which the mean and median follow exactly -- and every
count stays small (<= voters), so decryption is cheap. Encoding a rating as one
ciphertext of 0..10 with an 11-branch proof would cost about half the proof work
per item but only ever reveal the sum (the mean); the evaluation of a mayor's
pledges is read as a distribution, so the histogram is worth the price.

Proofs (``proofs.RangeProof``), all under one ballot context ``ctx``:

* a bit proof per ciphertext: plaintext in [0, 1];
* sum proofs on homomorphic sums: single/multiple -- the sum over the contest's
  options lies in [min_selections, max_selections] (omitted when the limits are
  [0, options], which the bit proofs already imply); rating -- for each item the
  sum over its 11 levels is exactly 1.

Context (binds election, key, voter and every ciphertext, so a ballot cannot be
replayed for another voter or another election, and no proof can be moved)::

    ctx = SHA-256(domain("crypto/ballot") || election_id || K || u32(len(cred)) || cred
                  || alpha_1 || beta_1 || ... )      (all ciphertexts in ballot order)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, ClassVar

from ballot_tx.codec import U8, Bytes32, MaxLen, Wire, hash_bytes
from ballot_tx.crypto import elgamal
from ballot_tx.crypto import group as g
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.crypto.proofs import RangeProof, prove_range, range_mults, verify_range
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.manifest import (
    MAX_BALLOT_CIPHERTEXTS,
    MAX_CONTESTS,
    MAX_OPTIONS,
    RATING_LEVELS,
    RATING_STEP,
    Contest,
    Manifest,
    Selections,
    check_selections,
    contest_width,
    election_id,
    normalize_selections,
)

LEVELS = len(RATING_LEVELS)
MAX_CREDENTIAL = 256


@dataclass(frozen=True)
class EncryptedContest(Wire):
    """One contest's ciphertexts with their bit proofs and sum proofs (see module doc)."""

    ciphertexts: Annotated[tuple[Ciphertext, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]
    bit_proofs: Annotated[tuple[RangeProof, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]
    sum_proofs: Annotated[tuple[RangeProof, ...], MaxLen(MAX_OPTIONS)]


@dataclass(frozen=True)
class EncryptedBallot(Wire):
    """A voter's encrypted, provably well-formed vote on one election."""

    KIND: ClassVar[str] = "encrypted-ballot"
    election_id: Bytes32
    contests: Annotated[tuple[EncryptedContest, ...], MaxLen(MAX_CONTESTS)]


@dataclass(frozen=True)
class BallotSecrets(Wire):
    """What opens a ballot: the claimed selections and every ElGamal nonce ``r``
    (per contest, in ciphertext order). Publishing it spoils the ballot (Benaloh
    audit): anyone can then check the ballot encrypted exactly these selections."""

    KIND: ClassVar[str] = "ballot-secrets"
    selections: Annotated[tuple[Annotated[tuple[U8, ...], MaxLen(MAX_OPTIONS)], ...], MaxLen(MAX_CONTESTS)]
    nonces: Annotated[
        tuple[Annotated[tuple[Bytes32, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)], ...], MaxLen(MAX_CONTESTS)
    ]


@dataclass(frozen=True)
class SpoiledBallot(Wire):
    """A ballot opened for a Benaloh audit (never counted): the ballot and its secrets.
    Check with ``verify_spoiled(manifest, key, credential, sb.ballot, sb.secrets)``."""

    KIND: ClassVar[str] = "spoiled-ballot"
    ballot: EncryptedBallot
    secrets: BallotSecrets


# --- plaintext layout ------------------------------------------------------------


def plaintexts(c: Contest, sel: tuple[int, ...]) -> list[int]:
    """The 0/1 plaintext of each ciphertext of a contest for valid selections."""
    if c.kind != "rating":
        return list(sel)
    out: list[int] = []
    for v in sel:
        level = v // RATING_STEP
        out += [1 if lv == level else 0 for lv in range(LEVELS)]
    return out


def selections_from_plaintexts(c: Contest, pts: list[int]) -> tuple[int, ...]:
    """Inverse of ``plaintexts`` (for one-hot rating groups, the level that is 1)."""
    if c.kind != "rating":
        return tuple(pts)
    return tuple(
        RATING_STEP * pts[LEVELS * i : LEVELS * (i + 1)].index(1) for i in range(len(c.options))
    )


def sum_ranges(c: Contest) -> list[tuple[int, int, int, int]]:
    """The sum proofs of a contest: ``(first ciphertext, count, lo, hi)`` each."""
    if c.kind == "rating":
        return [(LEVELS * i, LEVELS, 1, 1) for i in range(len(c.options))]
    n = len(c.options)
    if (c.min_selections, c.max_selections) == (0, n):
        return []
    return [(0, n, c.min_selections, c.max_selections)]


def ballot_points(ballot: EncryptedBallot) -> tuple[bytes, ...]:
    """Every ciphertext's (alpha, beta), contest by contest: the points a tally adds."""
    return tuple(p for ec in ballot.contests for ct in ec.ciphertexts for p in (ct.alpha, ct.beta))


def ballot_context(
    eid: bytes, election_key: bytes, credential: bytes, contests: tuple[EncryptedContest, ...]
) -> bytes:
    """The 32-byte Fiat-Shamir context of a ballot (see module doc)."""
    parts = [eid, election_key, len(credential).to_bytes(4, "little"), credential]
    for ec in contests:
        for ct in ec.ciphertexts:
            parts.append(ct.alpha)
            parts.append(ct.beta)
    return hash_bytes("crypto/ballot", b"".join(parts))


def _check_credential(credential: bytes) -> None:
    if type(credential) is not bytes or not 1 <= len(credential) <= MAX_CREDENTIAL:
        raise CryptoError(
            ErrorCode.CRYPTO_WRONG_SHAPE, f"credential must be 1..{MAX_CREDENTIAL} bytes"
        )


# --- encryption --------------------------------------------------------------------


def encrypt_ballot(
    manifest: Manifest,
    election_key: bytes,
    credential: bytes,
    selections: Selections,
    seed: bytes | None = None,
) -> tuple[EncryptedBallot, BallotSecrets]:
    """Encrypt ``selections`` and prove the ballot valid.

    ``credential`` is the voter's public credential (on chain: the voter's Ed25519
    public key). ``seed`` (32 bytes) makes the result deterministic -- for test
    vectors only: one seed must never encrypt two different votes. Without it a
    fresh random seed is drawn. ``selections`` may be tuples or lists (parsed JSON).
    Refuses invalid selections with CRYPTO_BAD_SELECTION.
    """
    selections = normalize_selections(selections)
    check_selections(manifest, selections)
    _check_credential(credential)
    g.point(election_key, "election key")
    if seed is None:
        seed = os.urandom(32)
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    eid = election_id(manifest)
    cts: list[list[Ciphertext]] = []
    nonces: list[list[int]] = []
    pts: list[list[int]] = []
    for ci, (c, sel) in enumerate(zip(manifest.contests, selections, strict=True)):
        p = plaintexts(c, sel)
        rs = [
            g.hash_to_scalar("crypto/ballot-nonce", seed, ci.to_bytes(4, "little"), j.to_bytes(4, "little"))
            for j in range(len(p))
        ]
        cts.append([elgamal.encrypt(election_key, m, r) for m, r in zip(p, rs, strict=True)])
        nonces.append(rs)
        pts.append(p)
    bare = tuple(EncryptedContest(tuple(x), (), ()) for x in cts)
    ctx = ballot_context(eid, election_key, credential, bare)
    contests: list[EncryptedContest] = []
    for c, cl, rs, p in zip(manifest.contests, cts, nonces, pts, strict=True):
        bits = tuple(
            prove_range(ct, election_key, m, r, 0, 1, ctx, seed)
            for ct, m, r in zip(cl, p, rs, strict=True)
        )
        sums = []
        for start, count, lo, hi in sum_ranges(c):
            total = elgamal.sum_ciphertexts(cl[start : start + count])
            m = sum(p[start : start + count])
            r = sum(rs[start : start + count])
            sums.append(prove_range(total, election_key, m, r, lo, hi, ctx, seed))
        contests.append(EncryptedContest(tuple(cl), bits, tuple(sums)))
    ballot = EncryptedBallot(eid, tuple(contests))
    secrets = BallotSecrets(
        tuple(tuple(s) for s in selections), tuple(tuple(g.sc(r) for r in rs) for rs in nonces)
    )
    return ballot, secrets


# --- verification --------------------------------------------------------------------


def _check_shape(manifest: Manifest, ballot: EncryptedBallot) -> None:
    if len(ballot.contests) != len(manifest.contests):
        raise CryptoError(
            ErrorCode.CRYPTO_WRONG_SHAPE,
            f"ballot has {len(ballot.contests)} contests, the manifest {len(manifest.contests)}",
        )
    for c, ec in zip(manifest.contests, ballot.contests, strict=True):
        w = contest_width(c)
        ns = len(sum_ranges(c))
        if len(ec.ciphertexts) != w or len(ec.bit_proofs) != w or len(ec.sum_proofs) != ns:
            raise CryptoError(
                ErrorCode.CRYPTO_WRONG_SHAPE,
                f"contest {c.id!r} needs {w} ciphertexts, {w} bit proofs and {ns} sum proofs",
            )


def verify_ballot(
    manifest: Manifest, election_key: bytes, credential: bytes, ballot: EncryptedBallot
) -> None:
    """Check a cast ballot; raise ``CryptoError`` unless every proof verifies.

    The manifest is assumed valid (checked once when the election was created).
    Codes: CRYPTO_WRONG_ELECTION, CRYPTO_WRONG_SHAPE, CRYPTO_BAD_POINT,
    CRYPTO_BAD_SCALAR, CRYPTO_BAD_PROOF.
    """
    eid = election_id(manifest)
    if ballot.election_id != eid:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the ballot is for another election")
    _check_credential(credential)
    _check_shape(manifest, ballot)
    g.point(election_key, "election key")
    for ci, ec in enumerate(ballot.contests):
        for j, ct in enumerate(ec.ciphertexts):
            elgamal.check(ct, f"contest {ci} ciphertext {j}")
    ctx = ballot_context(eid, election_key, credential, ballot.contests)
    for c, ec in zip(manifest.contests, ballot.contests, strict=True):
        cl = ec.ciphertexts
        for j, (ct, pr) in enumerate(zip(cl, ec.bit_proofs, strict=True)):
            verify_range(pr, ct, election_key, 0, 1, ctx, f"contest {c.id!r} bit proof {j}")
        for k, ((start, count, lo, hi), pr) in enumerate(
            zip(sum_ranges(c), ec.sum_proofs, strict=True)
        ):
            total = elgamal.sum_ciphertexts(cl[start : start + count])
            verify_range(pr, total, election_key, lo, hi, ctx, f"contest {c.id!r} sum proof {k}")


def verify_ballot_mults(manifest: Manifest) -> tuple[int, int, int]:
    """(fixed-base mults, variable-base mults, point additions) ``verify_ballot``'s
    equations need for this manifest -- the yardstick of ``scripts/bench_crypto``."""
    nb = nv = na = 0
    for c in manifest.contests:
        w = contest_width(c)
        b, v = range_mults(2)
        nb, nv = nb + w * b, nv + w * v
        na += w * 5  # per bit proof: 4 subtractions for a_j, b_j and beta - G
        for _start, count, lo, hi in sum_ranges(c):
            k = hi - lo + 1
            b, v = range_mults(k)
            nb, nv = nb + b, nv + v
            na += 2 * (count - 1) + 2 * k + sum(1 for m in range(lo, hi + 1) if m)
    return nb, nv, na


# --- Benaloh audit -------------------------------------------------------------------


def verify_spoiled(
    manifest: Manifest,
    election_key: bytes,
    credential: bytes,
    ballot: EncryptedBallot,
    secrets: BallotSecrets,
) -> Selections:
    """Check that a spoiled ``ballot`` is valid and encrypts exactly the revealed
    selections under the revealed nonces; return those selections.

    A voting device that cheats (encrypts something other than what the voter chose)
    is caught by any voter who audits instead of casting: the device had to commit
    to the ciphertexts before learning which ballots would be opened.
    """
    verify_ballot(manifest, election_key, credential, ballot)
    selections: Selections = secrets.selections
    try:
        check_selections(manifest, selections)
    except CryptoError as e:
        raise CryptoError(ErrorCode.CRYPTO_SPOILED_MISMATCH, f"revealed selections: {e.message}") from None
    if len(secrets.nonces) != len(ballot.contests):
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "one nonce list per contest is needed")
    for c, ec, sel, rs in zip(manifest.contests, ballot.contests, selections, secrets.nonces, strict=True):
        p = plaintexts(c, sel)
        if len(rs) != len(ec.ciphertexts):
            raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, f"contest {c.id!r}: wrong number of nonces")
        for j, (ct, m, rb) in enumerate(zip(ec.ciphertexts, p, rs, strict=True)):
            r = g.scalar(rb, f"contest {c.id!r} nonce {j}")
            if elgamal.encrypt(election_key, m, r) != ct:
                raise CryptoError(
                    ErrorCode.CRYPTO_SPOILED_MISMATCH,
                    f"contest {c.id!r} ciphertext {j} does not encrypt the revealed selection",
                )
    return selections
