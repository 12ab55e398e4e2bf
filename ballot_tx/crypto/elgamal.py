"""Exponential ElGamal on ristretto255 under the joint election key ``K = x*G``.

    Enc_K(m; r) = (alpha, beta) = (r*G, m*G + r*K)

Ciphertexts add component-wise, and the sum encrypts the sum of the messages:
that is the homomorphic tally. Decryption needs ``x*alpha`` (made jointly by the
trustees, see ``decryption.py``) and then a bounded discrete log of ``m*G`` (``dlog.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.codec import Bytes32, Wire
from ballot_tx.crypto import group as g


@dataclass(frozen=True)
class Ciphertext(Wire):
    """``alpha = r*G``, ``beta = m*G + r*K``."""

    alpha: Bytes32
    beta: Bytes32


#: Enc(0; 0): the neutral element of ciphertext addition (an empty tally).
ZERO = Ciphertext(g.IDENTITY, g.IDENTITY)


def encrypt(key: bytes, m: int, r: int) -> Ciphertext:
    """``Enc_K(m; r)`` for a small non-negative message ``m`` and nonce ``r``."""
    rb = g.sc(r)
    beta = g.mul(rb, key)
    if m:
        beta = g.add(g.small_multiple(m), beta)
    return Ciphertext(g.base(rb), beta)


def check(ct: Ciphertext, what: str, allow_identity: bool = False) -> None:
    """Validate both points of a ciphertext from the wire (CRYPTO_BAD_POINT)."""
    g.point(ct.alpha, f"{what}.alpha", allow_identity)
    g.point(ct.beta, f"{what}.beta", allow_identity)


def add(x: Ciphertext, y: Ciphertext) -> Ciphertext:
    """Enc(m1; r1) + Enc(m2; r2) = Enc(m1 + m2; r1 + r2)."""
    return Ciphertext(g.add(x.alpha, y.alpha), g.add(x.beta, y.beta))


def sub(x: Ciphertext, y: Ciphertext) -> Ciphertext:
    """Enc(m1; r1) - Enc(m2; r2) = Enc(m1 - m2; r1 - r2) (re-voting replaces a ballot)."""
    return Ciphertext(g.sub(x.alpha, y.alpha), g.sub(x.beta, y.beta))


def sum_ciphertexts(cts: list[Ciphertext] | tuple[Ciphertext, ...]) -> Ciphertext:
    """Component-wise sum (``ZERO`` for an empty sequence)."""
    return Ciphertext(
        g.sum_points([c.alpha for c in cts]), g.sum_points([c.beta for c in cts])
    )


def decrypt_point(ct: Ciphertext, secret: int) -> bytes:
    """``m*G = beta - x*alpha`` with the whole secret key (tests only: no one holds x)."""
    return g.sub(ct.beta, g.mul(g.sc(secret), ct.alpha))
