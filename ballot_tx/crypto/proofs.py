"""Non-interactive zero-knowledge proofs (Fiat-Shamir over SHA-512, domain-separated).

Every proof is a pair of scalar lists named as in the equations below; every
challenge hashes a caller-supplied 32-byte context ``ctx`` first, which binds
the proof to its election, voter, ballot or trustee (see docs/crypto.md
for each context). ``H_kind(...)`` is ``group.hash_to_scalar``:
``SHA-512("ballotchain/v1/" || kind || 0x00 || parts...) mod L``; all parts are
32-byte points/hashes or 4-byte little-endian integers, concatenated.

Range proof (disjunctive Chaum-Pedersen, Cramer-Damgard-Schoenmakers): ciphertext
``(alpha, beta)`` under key ``K`` encrypts some ``m`` in ``[lo, hi]``. For each
``j = 0..k-1`` (``k = hi - lo + 1``, ``m_j = lo + j``)::

    a_j = z_j*G - c_j*alpha
    b_j = z_j*K - c_j*(beta - m_j*G)
    sum_j c_j = H_"crypto/range"(ctx, alpha, beta, lo, hi, a_0, b_0, ..., a_{k-1}, b_{k-1})

Schnorr proof of knowledge of ``a`` with ``A = a*G``::

    R = z*G - c*A ;  c = H_"crypto/schnorr"(ctx, A, R)

Chaum-Pedersen proof that ``log_G Y = log_P M``::

    a = z*G - c*Y ;  b = z*P - c*M ;  c = H_"crypto/dleq"(ctx, Y, P, M, a, b)

The verifier recomputes the commitments from (c, z) and re-hashes: that needs
exactly the scalar multiplications written above and nothing else.
"""

from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import Bytes32, MaxLen, Wire, domain
from ballot_tx.crypto import group as g
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.crypto.sodium import _sodium
from ballot_tx.errors import CryptoError, ErrorCode

#: Most branches a range proof may have (a contest sum over at most this many values).
MAX_BRANCHES = 128

_L = g.L
_new = ctypes.c_char * 32  # a fresh zeroed 32-byte buffer per call: _new()
_fbase = _sodium.crypto_scalarmult_ristretto255_base
_fmul = _sodium.crypto_scalarmult_ristretto255
_fsub = _sodium.crypto_core_ristretto255_sub
_H_RANGE = hashlib.sha512(domain("crypto/range"))
_base = g.base
_mul = g.mul
_sub = g.sub
_small = g.small_multiple


@dataclass(frozen=True)
class RangeProof(Wire):
    """Disjunctive Chaum-Pedersen proof: ``c[j]``, ``z[j]`` for branch ``m_j = lo + j``."""

    c: Annotated[tuple[Bytes32, ...], MaxLen(MAX_BRANCHES)]
    z: Annotated[tuple[Bytes32, ...], MaxLen(MAX_BRANCHES)]


@dataclass(frozen=True)
class SchnorrProof(Wire):
    """Proof of knowledge of ``log_G A``: challenge ``c``, response ``z``."""

    c: Bytes32
    z: Bytes32


@dataclass(frozen=True)
class ChaumPedersenProof(Wire):
    """Proof that ``log_G Y = log_P M``: challenge ``c``, response ``z``."""

    c: Bytes32
    z: Bytes32


def _bad(what: str) -> CryptoError:
    return CryptoError(ErrorCode.CRYPTO_BAD_PROOF, f"{what} does not verify")


def _u32(x: int) -> bytes:
    return x.to_bytes(4, "little")


def derive_nonce(seed: bytes, label: bytes, *parts: bytes) -> int:
    """A prover's secret nonce, derived from a secret 32-byte seed and the statement.

    Deriving (rather than drawing) nonces makes known-answer vectors possible and,
    as in deterministic signatures, a nonce never repeats across different statements.
    """
    return g.hash_to_scalar("crypto/prover-nonce", seed, label, *parts)


# --- range proof ------------------------------------------------------------


def prove_range(
    ct: Ciphertext,
    key: bytes,
    m: int,
    r: int,
    lo: int,
    hi: int,
    ctx: bytes,
    seed: bytes,
) -> RangeProof:
    """Prove ``ct = Enc_K(m; r)`` with ``lo <= m <= hi`` (the real branch is ``m - lo``)."""
    if not lo <= m <= hi:
        raise CryptoError(ErrorCode.CRYPTO_BAD_SELECTION, f"value {m} is outside [{lo}, {hi}]")
    if hi - lo + 1 > MAX_BRANCHES:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, f"range [{lo}, {hi}] is too wide")
    return prove_branch(ct, key, m - lo, r, lo, hi, ctx, seed)


def prove_branch(
    ct: Ciphertext, key: bytes, real: int, r: int, lo: int, hi: int, ctx: bytes, seed: bytes
) -> RangeProof:
    """The CDS prover with branch ``real`` answered honestly and the others simulated.

    Sound only if ``ct`` really encrypts ``lo + real`` under nonce ``r``; tests call
    it directly to play a cheating voter, whose proof must then fail.
    """
    k = hi - lo + 1
    alpha, beta = ct.alpha, ct.beta
    label = b"range" + _u32(lo) + _u32(hi)
    cs: list[int] = [0] * k
    zs: list[int] = [0] * k
    commit: list[bytes] = []
    w = derive_nonce(seed, label, ctx, alpha, beta, b"w")
    for j in range(k):
        if j == real:
            wb = g.sc(w)
            commit += [_base(wb), _mul(wb, key)]
            continue
        cj = derive_nonce(seed, label, ctx, alpha, beta, b"c", _u32(j))
        zj = derive_nonce(seed, label, ctx, alpha, beta, b"z", _u32(j))
        cs[j], zs[j] = cj, zj
        cb, zb = g.sc(cj), g.sc(zj)
        mj = lo + j
        bm = beta if mj == 0 else _sub(beta, _small(mj))
        commit += [_sub(_base(zb), _mul(cb, alpha)), _sub(_mul(zb, key), _mul(cb, bm))]
    c = g.hash_to_scalar("crypto/range", ctx, alpha, beta, _u32(lo), _u32(hi), *commit)
    cs[real] = (c - sum(cs)) % _L
    zs[real] = (w + cs[real] * r) % _L
    return RangeProof(tuple(g.sc(x) for x in cs), tuple(g.sc(x) for x in zs))


def verify_range(
    proof: RangeProof, ct: Ciphertext, key: bytes, lo: int, hi: int, ctx: bytes, what: str
) -> None:
    """Check a range proof; ``ct`` and ``key`` must already be validated points.

    Raises CRYPTO_WRONG_SHAPE (branch count), CRYPTO_BAD_SCALAR or CRYPTO_BAD_PROOF,
    naming ``what``. This is the hot loop of ballot checking, so it calls libsodium
    directly and passes intermediate points as ctypes buffers (no copies); it computes
    exactly the equations of the module docstring.
    """
    cs, zs = proof.c, proof.z
    k = hi - lo + 1
    if len(cs) != k or len(zs) != k:
        raise CryptoError(
            ErrorCode.CRYPTO_WRONG_SHAPE, f"{what} must have {k} branches, not {len(cs)}/{len(zs)}"
        )
    alpha, beta = ct.alpha, ct.beta
    h = _H_RANGE.copy()
    h.update(ctx + alpha + beta + _u32(lo) + _u32(hi))
    new, fbase, fmul, fsub = _new, _fbase, _fmul, _fsub
    total = 0
    for j in range(k):
        cb, zb = cs[j], zs[j]
        ci = int.from_bytes(cb, "little")
        if ci >= _L or int.from_bytes(zb, "little") >= _L:
            raise CryptoError(ErrorCode.CRYPTO_BAD_SCALAR, f"{what} has a non-canonical scalar")
        total += ci
        mj = lo + j
        if mj == 0:
            bm: bytes | ctypes.Array[ctypes.c_char] = beta
        else:
            bm = new()
            fsub(bm, beta, _small(mj))  # beta - m_j*G
        zg, ca, a = new(), new(), new()
        fbase(zg, zb)
        fmul(ca, cb, alpha)
        fsub(a, zg, ca)  # a_j = z_j*G - c_j*alpha
        zk, cm, b = new(), new(), new()
        fmul(zk, zb, key)
        fmul(cm, cb, bm)
        fsub(b, zk, cm)  # b_j = z_j*K - c_j*(beta - m_j*G)
        h.update(a)
        h.update(b)
    if total % _L != int.from_bytes(h.digest(), "little") % _L:
        raise _bad(what)


def range_mults(k: int) -> tuple[int, int]:
    """(fixed-base, variable-base) scalar multiplications ``verify_range`` needs for
    ``k`` branches: per branch ``z_j*G``, and ``c_j*alpha``, ``z_j*K``,
    ``c_j*(beta - m_j*G)``."""
    return k, 3 * k


# --- Schnorr ------------------------------------------------------------------


def prove_schnorr(a: int, ctx: bytes, seed: bytes) -> SchnorrProof:
    """Prove knowledge of ``a`` for ``A = a*G``."""
    ab = g.sc(a)
    big_a = _base(ab)
    w = derive_nonce(seed, b"schnorr", ab, ctx)
    big_r = _base(g.sc(w))
    c = g.hash_to_scalar("crypto/schnorr", ctx, big_a, big_r)
    return SchnorrProof(g.sc(c), g.sc(w + c * a))


def verify_schnorr(proof: SchnorrProof, big_a: bytes, ctx: bytes, what: str) -> None:
    """Check ``R = z*G - c*A``, ``c = H(ctx, A, R)``; ``A`` must be validated."""
    cb = g.scalar_bytes(proof.c, f"{what}.c")
    zb = g.scalar_bytes(proof.z, f"{what}.z")
    big_r = _sub(_base(zb), _mul(cb, big_a))
    if int.from_bytes(cb, "little") != g.hash_to_scalar("crypto/schnorr", ctx, big_a, big_r):
        raise _bad(what)


# --- Chaum-Pedersen (discrete-log equality) -------------------------------------


def prove_dleq(x: int, big_p: bytes, ctx: bytes, seed: bytes) -> tuple[bytes, ChaumPedersenProof]:
    """Return ``M = x*P`` and a proof that ``log_G(x*G) = log_P(M)``."""
    xb = g.sc(x)
    big_y = _base(xb)
    big_m = _mul(xb, big_p)
    w = g.sc(derive_nonce(seed, b"dleq", xb, big_p, ctx))
    a, b = _base(w), _mul(w, big_p)
    c = g.hash_to_scalar("crypto/dleq", ctx, big_y, big_p, big_m, a, b)
    return big_m, ChaumPedersenProof(g.sc(c), g.sc(int.from_bytes(w, "little") + c * x))


def verify_dleq(
    proof: ChaumPedersenProof, big_y: bytes, big_p: bytes, big_m: bytes, ctx: bytes, what: str
) -> None:
    """Check ``a = z*G - c*Y``, ``b = z*P - c*M``, ``c = H(ctx, Y, P, M, a, b)``."""
    cb = g.scalar_bytes(proof.c, f"{what}.c")
    zb = g.scalar_bytes(proof.z, f"{what}.z")
    a = _sub(_base(zb), _mul(cb, big_y))
    b = _sub(_mul(zb, big_p), _mul(cb, big_m))
    if int.from_bytes(cb, "little") != g.hash_to_scalar(
        "crypto/dleq", ctx, big_y, big_p, big_m, a, b
    ):
        raise _bad(what)
