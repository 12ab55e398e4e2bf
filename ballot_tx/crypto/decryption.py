"""Threshold decryption of a tally: decryption shares, their combination, the result.

Separate from the tally (``tally.py``) because it is a different protocol with its own
wire objects and proofs, run once after the count by the trustees, where the tally is
counted into by every ballot. Decryption share of trustee ``j`` (secret share ``x_j``,
verification key ``Y_j``, see ``trustees.py``) for each slot ``(alpha, beta)``:
``M_j = x_j*alpha`` with a Chaum-Pedersen proof that ``log_G Y_j = log_alpha M_j``
under the context
``SHA-256(domain("crypto/decryption") || election_id || digest(tally) || u32(j))``.

Combination from any set ``S`` of ``t`` trustees, with Lagrange coefficients at 0::

    lambda_j = prod_{m in S, m != j} m / (m - j)   (mod L)
    x*alpha  = sum_{j in S} lambda_j * M_j
    count*G  = beta - x*alpha

and ``count`` by bounded discrete log (``dlog.py``, bound = ``ballots``). A published
``TallyResult`` is checked without any discrete log: ``count*G == beta - x*alpha``.
See docs/crypto.md, "Decryption".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from ballot_tx.codec import U8, U32, Bytes32, MaxLen, Wire, digest, hash_bytes
from ballot_tx.crypto import group as g
from ballot_tx.crypto.dlog import dlog
from ballot_tx.crypto.proofs import ChaumPedersenProof, prove_dleq, verify_dleq
from ballot_tx.crypto.tally import EncryptedTally, check_tally
from ballot_tx.crypto.trustees import TrusteeCommitment, verification_key
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.manifest import MAX_BALLOT_CIPHERTEXTS, MAX_CONTESTS, MAX_TRUSTEES, Manifest

SlotPoints = Annotated[tuple[Bytes32, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]
SlotProofs = Annotated[tuple[ChaumPedersenProof, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]
SlotCounts = Annotated[tuple[U32, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]


@dataclass(frozen=True)
class DecryptionShare(Wire):
    """Trustee ``trustee``'s ``M = x_j*alpha`` for every slot of tally ``tally``."""

    KIND: ClassVar[str] = "decryption-share"
    election_id: Bytes32
    tally: Bytes32
    trustee: U8
    shares: Annotated[tuple[SlotPoints, ...], MaxLen(MAX_CONTESTS)]
    proofs: Annotated[tuple[SlotProofs, ...], MaxLen(MAX_CONTESTS)]


@dataclass(frozen=True)
class TallyResult(Wire):
    """The decrypted counts per contest per slot, and which trustees' shares made them."""

    KIND: ClassVar[str] = "tally-result"
    election_id: Bytes32
    tally: Bytes32
    ballots: U32
    trustees: Annotated[tuple[U8, ...], MaxLen(MAX_TRUSTEES)]
    counts: Annotated[tuple[SlotCounts, ...], MaxLen(MAX_CONTESTS)]


# --- decryption shares ----------------------------------------------------------------


def share_context(eid: bytes, tally_digest: bytes, trustee: int) -> bytes:
    return hash_bytes("crypto/decryption", eid + tally_digest + trustee.to_bytes(4, "little"))


def make_decryption_share(
    manifest: Manifest, tally: EncryptedTally, index: int, secret_share: int, seed: bytes | None = None
) -> DecryptionShare:
    """Trustee ``index``'s share of the tally's decryption, with proofs."""
    check_tally(manifest, tally)
    td = digest(tally)
    ctx = share_context(tally.election_id, td, index)
    s = seed if seed is not None else g.sc(secret_share)
    points, proofs = [], []
    for slots in tally.contests:
        made = [prove_dleq(secret_share, ct.alpha, ctx, s) for ct in slots]
        points.append(tuple(p for p, _ in made))
        proofs.append(tuple(pr for _, pr in made))
    return DecryptionShare(tally.election_id, td, index, tuple(points), tuple(proofs))


def _bad_share(why: str) -> CryptoError:
    return CryptoError(ErrorCode.CRYPTO_BAD_DECRYPTION_SHARE, why)


def verify_decryption_share(
    manifest: Manifest,
    commitments: Sequence[TrusteeCommitment],
    tally: EncryptedTally,
    share: DecryptionShare,
) -> None:
    """Raise CRYPTO_BAD_DECRYPTION_SHARE unless every ``M_j`` is proven ``x_j*alpha``.

    ``commitments`` are the qualified trustees' (``trustees.qualified``); ``tally`` is
    assumed checked (``check_tally``).
    """
    j = share.trustee
    if share.election_id != tally.election_id:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the decryption share is for another election")
    td = digest(tally)
    if share.tally != td:
        raise _bad_share(f"trustee {j}'s share is for another tally")
    if not 1 <= j <= len(manifest.trustees):
        raise _bad_share(f"{j} is not a trustee index")
    widths = [len(s) for s in tally.contests]
    if [len(s) for s in share.shares] != widths or [len(p) for p in share.proofs] != widths:
        raise _bad_share(f"trustee {j}'s share does not match the tally's shape")
    y = verification_key(commitments, j)
    ctx = share_context(share.election_id, td, j)
    try:
        for ci, (slots, pts, prs) in enumerate(
            zip(tally.contests, share.shares, share.proofs, strict=True)
        ):
            for k, (ct, big_m, pr) in enumerate(zip(slots, pts, prs, strict=True)):
                what = f"trustee {j} contest {ci} slot {k}"
                g.point(big_m, what, allow_identity=True)
                verify_dleq(pr, y, ct.alpha, big_m, ctx, what)
    except CryptoError as e:
        raise _bad_share(e.message) from None


def lagrange_at_zero(indices: Sequence[int]) -> list[int]:
    """``lambda_j = prod_{m != j} m / (m - j) mod L`` for each ``j`` in ``indices``.

    Raises CRYPTO_BAD_INDICES unless the indices are distinct and in ``1..L-1``: a
    repeated index would be skipped in the products (a silently wrong weight), and
    index 0 is the secret itself, never a trustee (its weight would zero the others).
    """
    if len(set(indices)) != len(indices) or any(not 1 <= j < g.L for j in indices):
        raise CryptoError(
            ErrorCode.CRYPTO_BAD_INDICES, f"indices {list(indices)} are not distinct trustee numbers >= 1"
        )
    out = []
    for j in indices:
        num, den = 1, 1
        for k in indices:
            if k != j:
                num = num * k % g.L
                den = den * (k - j) % g.L
        out.append(num * pow(den, -1, g.L) % g.L)
    return out


def _pick(manifest: Manifest, shares: Sequence[DecryptionShare]) -> list[DecryptionShare]:
    by_index: dict[int, DecryptionShare] = {}
    for s in shares:
        by_index.setdefault(s.trustee, s)
    if len(by_index) < manifest.threshold:
        raise CryptoError(
            ErrorCode.CRYPTO_NOT_ENOUGH_SHARES,
            f"{len(by_index)} trustees' shares, the threshold is {manifest.threshold}",
        )
    return [by_index[i] for i in sorted(by_index)[: manifest.threshold]]


def combine(tally: EncryptedTally, shares: Sequence[DecryptionShare]) -> tuple[tuple[bytes, ...], ...]:
    """``count*G = beta - sum_j lambda_j*M_j`` per slot from exactly the given shares
    (already verified; their number must be the threshold; two shares from one trustee
    or a trustee index 0 raise CRYPTO_BAD_INDICES)."""
    lams = [g.sc(x) for x in lagrange_at_zero([s.trustee for s in shares])]
    out = []
    for ci, slots in enumerate(tally.contests):
        row = []
        for k, ct in enumerate(slots):
            acc = g.IDENTITY
            for lam, s in zip(lams, shares, strict=True):
                acc = g.add(acc, g.mul(lam, s.shares[ci][k]))
            row.append(g.sub(ct.beta, acc))
        out.append(tuple(row))
    return tuple(out)


def decrypt_tally(
    manifest: Manifest,
    commitments: Sequence[TrusteeCommitment],
    tally: EncryptedTally,
    shares: Sequence[DecryptionShare],
) -> TallyResult:
    """Verify the shares, combine the first ``t`` trustees' (by index) and take each
    count's bounded discrete log. Raises on any bad share, or with fewer than ``t``."""
    check_tally(manifest, tally)
    for s in shares:
        verify_decryption_share(manifest, commitments, tally, s)
    used = _pick(manifest, shares)
    points = combine(tally, used)
    counts = tuple(tuple(dlog(p, tally.ballots) for p in row) for row in points)
    return TallyResult(tally.election_id, digest(tally), tally.ballots, tuple(s.trustee for s in used), counts)


def verify_result(
    manifest: Manifest,
    commitments: Sequence[TrusteeCommitment],
    tally: EncryptedTally,
    shares: Sequence[DecryptionShare],
    result: TallyResult,
) -> None:
    """Check a published result from the record alone (the caller recomputes ``tally``
    from the counted ballots): the named trustees' shares verify, there are exactly
    ``t`` of them, and ``count*G == beta - x*alpha`` for every slot. CRYPTO_BAD_RESULT."""
    check_tally(manifest, tally)

    def bad(why: str) -> CryptoError:
        return CryptoError(ErrorCode.CRYPTO_BAD_RESULT, why)

    if result.election_id != tally.election_id or result.tally != digest(tally):
        raise bad("the result is not for this tally")
    if result.ballots != tally.ballots:
        raise bad(f"the result counts {result.ballots} ballots, the tally {tally.ballots}")
    ts = list(result.trustees)
    if len(ts) != manifest.threshold or len(set(ts)) != len(ts):
        raise bad(f"the result must name {manifest.threshold} distinct trustees")
    by_index = {s.trustee: s for s in shares}
    missing = [j for j in ts if j not in by_index]
    if missing:
        raise bad(f"no decryption share from trustee(s) {missing}")
    used = [by_index[j] for j in ts]
    for s in used:
        verify_decryption_share(manifest, commitments, tally, s)
    if [len(r) for r in result.counts] != [len(s) for s in tally.contests]:
        raise bad("the result does not match the tally's shape")
    points = combine(tally, used)
    for ci, (row, counts) in enumerate(zip(points, result.counts, strict=True)):
        for k, (p, n) in enumerate(zip(row, counts, strict=True)):
            if n > tally.ballots or g.base(g.sc(n)) != p:
                raise bad(f"contest {ci} slot {k}: count {n} is not what the tally decrypts to")
