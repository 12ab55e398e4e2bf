"""Bounded discrete logarithm by baby-step giant-step: find ``m`` in ``[0, bound]``
with ``m*G = P``.

With ``s = ceil(sqrt(bound + 1))`` the baby steps are ``{j*G: j}`` for ``j < s`` (built
once per ``s`` and cached: every count of a tally shares the table) and the giant
steps walk ``P - i*s*G`` for ``i = 0..s``. Cost: about ``2*sqrt(bound)`` point
additions, e.g. ~0.6k for 100,000 voters -- milliseconds. A tally count is bounded
by the number of counted ballots (each slot holds 0 or 1 per ballot).
"""

from __future__ import annotations

from functools import lru_cache
from math import isqrt

from ballot_tx.crypto import group as g
from ballot_tx.errors import CryptoError, ErrorCode


@lru_cache(maxsize=8)
def _baby_steps(s: int) -> dict[bytes, int]:
    table: dict[bytes, int] = {}
    p = g.IDENTITY
    for j in range(s):
        table[p] = j
        p = g.add(p, g.G)
    return table


def dlog(p: bytes, bound: int) -> int:
    """``m`` in ``[0, bound]`` with ``m*G == p``; CRYPTO_DLOG_OUT_OF_RANGE if none."""
    if bound < 0:
        raise ValueError("bound must be non-negative")
    s = isqrt(bound) + 1  # s*s > bound
    table = _baby_steps(s)
    giant = g.small_multiple(s)
    gamma = p
    for i in range(s + 1):
        j = table.get(gamma)
        if j is not None:
            m = i * s + j
            if m <= bound:
                return m
            break
        gamma = g.sub(gamma, giant)
    raise CryptoError(
        ErrorCode.CRYPTO_DLOG_OUT_OF_RANGE, f"decrypted value is not in [0, {bound}]"
    )
