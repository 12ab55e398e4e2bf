"""The t-of-n key ceremony (Pedersen's DKG with Feldman commitments, GJKR complaints).

Trustees are numbered ``i = 1..n`` in manifest order; ``t = manifest.threshold``.

1. Each trustee ``i`` picks ``f_i(x) = a_{i,0} + a_{i,1} x + ... + a_{i,t-1} x^{t-1}``
   and publishes ``TrusteeCommitment``: ``A_{i,k} = a_{i,k}*G`` for ``k = 0..t-1``, each
   with a Schnorr proof of knowledge of ``a_{i,k}`` under the context
   ``SHA-256(domain("crypto/coefficient") || election_id || u32(i) || u32(k))``
   (so commitments cannot be copied from another trustee or election: no rogue keys).
2. For every other trustee ``j`` it publishes ``EncryptedShare``: the 32-byte scalar
   ``s_{i,j} = f_i(j)`` in a nacl Box from ``i``'s X25519 secret to ``j``'s X25519
   public key, with nonce ``SHA-256(domain("crypto/share-nonce") || election_id || u32(i)
   || u32(j) || digest(commitment_i))[:24]`` (bound to election, pair and commitment).
3. Trustee ``j`` opens each share and checks it (Feldman):
   ``s_{i,j}*G == sum_k j^k * A_{i,k}``.
   On failure it publishes ``ShareComplaint(dealer=i, accuser=j)``. The dealer answers
   with ``ShareReveal``: ``s_{i,j}`` in clear, which anyone checks against the same
   equation. An honest dealer cannot be framed (its reveal verifies, and it reveals only
   the accuser's own share); a cheating dealer cannot escape (it must publish a share that
   satisfies its commitments, or be disqualified).
4. The qualified set ``Q``: dealers with a valid commitment and no unanswered (or wrongly
   answered) complaint (``qualified``). Joint key and joint commitments:
   ``K = sum_{i in Q} A_{i,0}``, ``C_k = sum_{i in Q} A_{i,k}``.
   Trustee ``j``'s secret share ``x_j = sum_{i in Q} s_{i,j}`` and its public verification
   key ``Y_j = x_j*G = sum_k j^k * C_k`` (used to check its decryption shares).

Any ``t`` of the ``x_j`` determine ``x = sum_{i in Q} a_{i,0}`` by Lagrange interpolation
at 0; fewer reveal nothing about it. No one ever computes ``x`` itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

import nacl.bindings as sodium
import nacl.exceptions

from ballot_tx.codec import U8, Bytes32, MaxLen, Wire, digest, domain, hash_bytes
from ballot_tx.crypto import group as g
from ballot_tx.crypto.proofs import SchnorrProof, prove_schnorr, verify_schnorr
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import MAX_TRUSTEES, Manifest, election_id


@dataclass(frozen=True)
class TrusteeCommitment(Wire):
    """Trustee ``index``'s ``A_k = a_k*G`` (k = 0..t-1) with a Schnorr proof for each."""

    KIND: ClassVar[str] = "trustee-commitment"
    election_id: Bytes32
    index: U8
    commitments: Annotated[tuple[Bytes32, ...], MaxLen(MAX_TRUSTEES)]
    proofs: Annotated[tuple[SchnorrProof, ...], MaxLen(MAX_TRUSTEES)]


@dataclass(frozen=True)
class EncryptedShare(Wire):
    """``f_sender(recipient)`` sealed with nacl Box (``box`` = nonce || ciphertext)."""

    KIND: ClassVar[str] = "encrypted-share"
    election_id: Bytes32
    sender: U8
    recipient: U8
    box: Annotated[bytes, MaxLen(128)]


@dataclass(frozen=True)
class ShareComplaint(Wire):
    """Trustee ``accuser`` says the share from ``dealer`` is missing or wrong."""

    KIND: ClassVar[str] = "share-complaint"
    election_id: Bytes32
    dealer: U8
    accuser: U8


@dataclass(frozen=True)
class ShareReveal(Wire):
    """The dealer's public answer to a complaint: ``share = f_dealer(recipient)``."""

    KIND: ClassVar[str] = "share-reveal"
    election_id: Bytes32
    dealer: U8
    recipient: U8
    share: Bytes32


def _u32(x: int) -> bytes:
    return x.to_bytes(4, "little")


def _trustee_count(manifest: Manifest, index: int, what: str) -> None:
    if not 1 <= index <= len(manifest.trustees):
        raise CryptoError(
            ErrorCode.CRYPTO_WRONG_SHAPE, f"{what} {index} is not a trustee index 1..{len(manifest.trustees)}"
        )


def coefficient_context(eid: bytes, index: int, k: int) -> bytes:
    return hash_bytes("crypto/coefficient", eid + _u32(index) + _u32(k))


def polynomial(manifest: Manifest, index: int, keys: KeyPair, seed: bytes | None = None) -> tuple[int, ...]:
    """Trustee ``index``'s secret coefficients ``a_0..a_{t-1}``.

    Derived from the trustee's secret key and the election id (or from ``seed``), so a
    trustee can recompute them after a crash instead of storing another secret file.
    """
    _trustee_count(manifest, index, "trustee")
    base = seed if seed is not None else keys.ed25519_seed + keys.x25519_secret
    eid = election_id(manifest)
    return tuple(
        g.hash_to_scalar("crypto/dkg-coefficient", base, eid, _u32(index), _u32(k))
        for k in range(manifest.threshold)
    )


def make_commitment(manifest: Manifest, index: int, coeffs: Sequence[int]) -> TrusteeCommitment:
    eid = election_id(manifest)
    commits = tuple(g.base(g.sc(a)) for a in coeffs)
    proofs = tuple(
        prove_schnorr(a, coefficient_context(eid, index, k), g.sc(a)) for k, a in enumerate(coeffs)
    )
    return TrusteeCommitment(eid, index, commits, proofs)


def verify_commitment(manifest: Manifest, c: TrusteeCommitment) -> None:
    """Raise CRYPTO_BAD_COMMITMENT unless ``c`` is a well-formed commitment for ``m``."""
    eid = election_id(manifest)
    if c.election_id != eid:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the commitment is for another election")
    _trustee_count(manifest, c.index, "commitment index")
    if len(c.commitments) != manifest.threshold or len(c.proofs) != manifest.threshold:
        raise CryptoError(
            ErrorCode.CRYPTO_BAD_COMMITMENT,
            f"trustee {c.index} must commit to exactly {manifest.threshold} coefficients",
        )
    try:
        for k, (a, pr) in enumerate(zip(c.commitments, c.proofs, strict=True)):
            g.point(a, f"trustee {c.index} commitment {k}")
            verify_schnorr(pr, a, coefficient_context(eid, c.index, k), f"trustee {c.index} proof {k}")
    except CryptoError as e:
        raise CryptoError(ErrorCode.CRYPTO_BAD_COMMITMENT, e.message) from None


def evaluate(coeffs: Sequence[int], x: int) -> int:
    """``f(x) mod L`` (Horner)."""
    acc = 0
    for a in reversed(coeffs):
        acc = (acc * x + a) % g.L
    return acc


def commitment_at(commitments: Sequence[bytes], x: int) -> bytes:
    """``sum_k x^k * A_k`` = ``f(x)*G`` (Horner in the exponent)."""
    acc = g.IDENTITY
    xb = g.sc(x)
    for a in reversed(commitments):
        acc = g.add(g.mul(xb, acc), a)
    return acc


def _nonce(eid: bytes, sender: int, recipient: int, c: TrusteeCommitment) -> bytes:
    h = hashlib.sha256(domain("crypto/share-nonce"))
    h.update(eid + _u32(sender) + _u32(recipient) + digest(c))
    return h.digest()[:24]


def make_shares(
    manifest: Manifest, index: int, keys: KeyPair, coeffs: Sequence[int], commitment: TrusteeCommitment
) -> tuple[EncryptedShare, ...]:
    """Trustee ``index``'s encrypted share for every other trustee."""
    eid = election_id(manifest)
    out = []
    for j, t in enumerate(manifest.trustees, start=1):
        if j == index:
            continue
        nonce = _nonce(eid, index, j, commitment)
        ct = sodium.crypto_box(g.sc(evaluate(coeffs, j)), nonce, t.x25519_public, keys.x25519_secret)
        out.append(EncryptedShare(eid, index, j, nonce + ct))
    return tuple(out)


def check_share(commitment: TrusteeCommitment, recipient: int, share: int) -> bool:
    """Feldman: ``share*G == sum_k recipient^k * A_k``."""
    return g.base(g.sc(share)) == commitment_at(commitment.commitments, recipient)


def open_share(
    manifest: Manifest, keys: KeyPair, commitment: TrusteeCommitment, enc: EncryptedShare
) -> int:
    """Decrypt and check a share addressed to us; CRYPTO_BAD_SHARE means: complain."""
    eid = election_id(manifest)
    i, j = enc.sender, enc.recipient
    _trustee_count(manifest, i, "sender")
    _trustee_count(manifest, j, "recipient")
    if enc.election_id != eid or commitment.election_id != eid:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the share is for another election")
    if commitment.index != i or manifest.trustees[j - 1].x25519_public != keys.x25519_public:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "the share is not from this dealer to us")
    nonce, ct = enc.box[:24], enc.box[24:]
    if nonce != _nonce(eid, i, j, commitment):
        raise CryptoError(ErrorCode.CRYPTO_BAD_SHARE, f"share {i}->{j}: nonce is not bound to the commitment")
    try:
        plain = sodium.crypto_box_open(ct, nonce, manifest.trustees[i - 1].x25519_public, keys.x25519_secret)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
        raise CryptoError(ErrorCode.CRYPTO_BAD_SHARE, f"share {i}->{j} does not decrypt") from None
    if len(plain) != 32 or int.from_bytes(plain, "little") >= g.L:
        raise CryptoError(ErrorCode.CRYPTO_BAD_SHARE, f"share {i}->{j} is not a scalar")
    share = int.from_bytes(plain, "little")
    if not check_share(commitment, j, share):
        raise CryptoError(ErrorCode.CRYPTO_BAD_SHARE, f"share {i}->{j} does not match the commitment")
    return share


def make_complaint(manifest: Manifest, dealer: int, accuser: int) -> ShareComplaint:
    return ShareComplaint(election_id(manifest), dealer, accuser)


def make_reveal(manifest: Manifest, dealer: int, coeffs: Sequence[int], recipient: int) -> ShareReveal:
    return ShareReveal(election_id(manifest), dealer, recipient, g.sc(evaluate(coeffs, recipient)))


def verify_reveal(manifest: Manifest, commitment: TrusteeCommitment, reveal: ShareReveal) -> int:
    """Check a dealer's public answer to a complaint; return the share."""
    if reveal.election_id != election_id(manifest):
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the reveal is for another election")
    if reveal.dealer != commitment.index:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "the reveal is not from this dealer")
    _trustee_count(manifest, reveal.recipient, "recipient")
    share = g.scalar(reveal.share, "revealed share")
    if not check_share(commitment, reveal.recipient, share):
        raise CryptoError(
            ErrorCode.CRYPTO_BAD_SHARE,
            f"revealed share {reveal.dealer}->{reveal.recipient} does not match the commitment",
        )
    return share


def complaint_upheld(
    manifest: Manifest, commitment: TrusteeCommitment, complaint: ShareComplaint,
    reveals: Iterable[ShareReveal],
) -> bool:
    """True iff ``complaint`` disqualifies its dealer: it is a complaint a trustee of this
    election could make against the dealer of ``commitment``, and no reveal answers it
    with the accuser's share consistent with the commitment. Anyone can evaluate this
    from the public record."""
    n = len(manifest.trustees)
    if (
        complaint.election_id != election_id(manifest)
        or complaint.dealer != commitment.index
        or not 1 <= complaint.accuser <= n
        or complaint.accuser == complaint.dealer
    ):
        return False
    for r in reveals:
        if r.dealer != complaint.dealer or r.recipient != complaint.accuser:
            continue
        try:
            verify_reveal(manifest, commitment, r)
        except CryptoError:
            continue
        return False
    return True


def qualified(
    manifest: Manifest,
    commitments: Iterable[TrusteeCommitment],
    complaints: Iterable[ShareComplaint] = (),
    reveals: Iterable[ShareReveal] = (),
) -> tuple[TrusteeCommitment, ...]:
    """The qualified dealers' commitments, by index: a valid commitment (the first per
    index counts) and a valid reveal for every complaint against them. Complaints and
    reveals are assumed to come from signed transactions of the named trustees."""
    by_index: dict[int, TrusteeCommitment] = {}
    for c in commitments:
        if c.index in by_index:
            continue
        try:
            verify_commitment(manifest, c)
        except CryptoError:
            continue
        by_index[c.index] = c
    reveals = list(reveals)
    for comp in complaints:
        dealer = by_index.get(comp.dealer)
        if dealer is not None and complaint_upheld(manifest, dealer, comp, reveals):
            del by_index[comp.dealer]
    return tuple(by_index[i] for i in sorted(by_index))


def joint_commitments(commitments: Sequence[TrusteeCommitment]) -> tuple[bytes, ...]:
    """``C_k = sum_{i in Q} A_{i,k}``: commitments to the joint polynomial."""
    if not commitments:
        raise CryptoError(ErrorCode.CRYPTO_BAD_COMMITMENT, "no qualified trustee commitments")
    t = len(commitments[0].commitments)
    return tuple(g.sum_points([c.commitments[k] for c in commitments]) for k in range(t))


def joint_key(commitments: Sequence[TrusteeCommitment]) -> bytes:
    """The election public key ``K = sum_{i in Q} A_{i,0}``."""
    return joint_commitments(commitments)[0]


def verification_key(commitments: Sequence[TrusteeCommitment], index: int) -> bytes:
    """Trustee ``index``'s public key for its combined share: ``Y_j = sum_k j^k C_k``."""
    return commitment_at(joint_commitments(commitments), index)


def combined_share(
    manifest: Manifest, index: int, coeffs: Sequence[int], received: Mapping[int, int],
    commitments: Sequence[TrusteeCommitment],
) -> int:
    """``x_j = sum_{i in Q} s_{i,j}`` from our own polynomial and the shares we received
    (opened or revealed) from every other qualified dealer."""
    total = 0
    for c in commitments:
        if c.index == index:
            total += evaluate(coeffs, index)
        elif c.index in received:
            total += received[c.index]
        else:
            raise CryptoError(
                ErrorCode.CRYPTO_BAD_SHARE, f"no share from qualified trustee {c.index}"
            )
    x = total % g.L
    if g.base(g.sc(x)) != verification_key(commitments, index):
        raise CryptoError(ErrorCode.CRYPTO_BAD_SHARE, "combined share does not match the commitments")
    return x
