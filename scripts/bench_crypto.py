"""Benchmark of ballot cryptography (run through scripts/bench_crypto).

Prints, measured in one run: the raw libsodium cost of one ristretto255 scalar
multiplication (variable and fixed base), one point addition and one Ed25519
verification; encrypt and verify time per ballot for a 5-option single-choice
contest and a 10-item rating contest, with the ratio of verify time to the
scalar multiplications its equations need; tally+decrypt time for 10,000 and
100,000 ballots (5-option single choice, 5 trustees, threshold 3).

The 100k (and 10k) tallies add real, verified ballots: a pool of distinct
encrypted ballots is made first and cycled through (ballot k of the tally is pool
ballot k mod POOL); the expected counts follow from the pool's selections, and the
decrypted result is checked against them.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import time
from collections.abc import Callable

import nacl.bindings as nb

from ballot_tx.crypto import decryption, point_sums
from ballot_tx.crypto import group as g
from ballot_tx.crypto import tally as ty
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.ballot import encrypt_ballot, verify_ballot, verify_ballot_mults
from ballot_tx.crypto.point_sums import sum_points
from ballot_tx.crypto.sodium import _sodium
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import (
    RATING_LEVELS,
    Contest,
    Label,
    Manifest,
    Option,
    TrusteeInfo,
    contest_width,
    validate_manifest,
)
from harness.ceremony import HonestCeremony, honest_ceremony

#: CPU time of this process: the machine is shared, so wall time would measure the
#: neighbours too. Every figure below (raw costs and ballots alike) uses this clock.
clock = time.process_time


def per_call(fn: Callable[[], object], n: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` mean CPU seconds per call (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - t0) / n)
    return best


def raw_costs(n: int) -> dict[str, float]:
    s = g.sc(random.randrange(1, g.L))
    p = g.base(g.sc(random.randrange(1, g.L)))
    q = g.base(g.sc(random.randrange(1, g.L)))
    buf = ctypes.create_string_buffer(32)
    pk, sk = nb.crypto_sign_keypair()
    signed = nb.crypto_sign(b"x" * 200, sk)
    return {
        "mult": per_call(lambda: _sodium.crypto_scalarmult_ristretto255(buf, s, p), n),
        "base": per_call(lambda: _sodium.crypto_scalarmult_ristretto255_base(buf, s), n),
        "add": per_call(lambda: _sodium.crypto_core_ristretto255_add(buf, p, q), n),
        "valid": per_call(lambda: _sodium.crypto_core_ristretto255_is_valid_point(p), n),
        "ed25519": per_call(lambda: nb.crypto_sign_open(signed, pk), n),
        **{f"sum_{b}": per_call(lambda b=b: sum_points([p, q] * 50, backend=b), max(1, n // 50)) / 100
           for b in point_sums_backends()},
    }


def point_sums_backends() -> list[str]:
    return ["libdecaf", "libsodium"] if point_sums.BACKEND == "libdecaf" else ["libsodium"]


def trustees(n: int) -> tuple[TrusteeInfo, ...]:
    keys = [KeyPair.from_seed(bytes([0x40 + i]) * 32) for i in range(n)]
    return tuple(TrusteeInfo(f"t{i}", k.ed25519_public, k.x25519_public) for i, k in enumerate(keys))


def make_manifest(c: Contest) -> Manifest:
    m = Manifest(1, "bench", Label("ベンチ", "Bench"), (c,), "registered-key", 0, 1, True,
                 trustees(5), 3, bytes(32))
    validate_manifest(m)
    return m


def opts(n: int) -> tuple[Option, ...]:
    return tuple(Option(f"o{i}", Label(f"選択{i}", f"Option {i}"), None) for i in range(n))


SINGLE = make_manifest(Contest("mayor", "single", Label("市長", "Mayor"), opts(5), 1, 1))
RATING = make_manifest(Contest("pledges", "rating", Label("公約", "Pledges"), opts(10), 10, 10))


def ceremony(m: Manifest) -> HonestCeremony:
    return honest_ceremony(m, [KeyPair.from_seed(bytes([0x40 + i]) * 32) for i in range(len(m.trustees))])


def random_selection(m: Manifest, rng: random.Random) -> tuple[tuple[int, ...], ...]:
    c = m.contests[0]
    if c.kind == "rating":
        return (tuple(rng.choice(RATING_LEVELS) for _ in c.options),)
    k = rng.randrange(len(c.options))
    return (tuple(1 if i == k else 0 for i in range(len(c.options))),)


def bench_ballot(name: str, m: Manifest, key: bytes, n: int, costs: dict[str, float]) -> None:
    rng = random.Random(1)
    creds = [os.urandom(32) for _ in range(n)]
    sels = [random_selection(m, rng) for _ in range(n)]
    t0 = clock()
    ballots = [encrypt_ballot(m, key, c, s)[0] for c, s in zip(creds, sels, strict=True)]
    enc = (clock() - t0) / n
    times = []
    for _ in range(3):
        t0 = clock()
        for c, b in zip(creds, ballots, strict=True):
            verify_ballot(m, key, c, b)
        times.append((clock() - t0) / n)
    ver = min(times)
    nbase, nvar, nadd = verify_ballot_mults(m)
    nvalid = 1 + 2 * sum(contest_width(c) for c in m.contests)  # key + every ciphertext point
    issue = (nbase + nvar) * costs["mult"]
    strict = nbase * costs["base"] + nvar * costs["mult"]
    allops = strict + nadd * costs["add"] + nvalid * costs["valid"]
    print(f"\n{name}")
    print(f"  encrypt                      {enc * 1e3:8.2f} ms/ballot   (mean of {n})")
    print(f"  verify                       {ver * 1e3:8.2f} ms/ballot   (best of 3 passes over {n})")
    print(f"  equations need               {nbase} fixed-base + {nvar} variable-base mults, "
          f"{nadd} point additions, {nvalid} point validations")
    print(f"  ratio verify / (mults x one mult)                  {ver / issue:5.2f}   (aim <= 1.2)")
    print(f"  ratio verify / (fixed-base x base + variable x mult) {ver / strict:5.2f}")
    print(f"  ratio verify / (all of these group operations)     {ver / allops:5.2f}"
          f"   (the rest is Python)")


def bench_tally(m: Manifest, trustees: HonestCeremony, sizes: list[int], pool_size: int) -> None:
    q = trustees.qualified
    key = tr.joint_key(q)
    rng = random.Random(2)
    pool_sel = [random_selection(m, rng) for _ in range(pool_size)]
    pool = [encrypt_ballot(m, key, os.urandom(32), s)[0] for s in pool_sel]
    for n in sizes:
        ballots = (pool[k % pool_size] for k in range(n))
        t0 = clock()
        tally = ty.aggregate(m, ballots)
        t1 = clock()
        dshares = trustees.decryption_shares(tally, (1, 3, 5))
        t2 = clock()
        result = decryption.decrypt_tally(m, q, tally, dshares)
        t3 = clock()
        want = [0] * len(m.contests[0].options)
        for k in range(n):
            for i, v in enumerate(pool_sel[k % pool_size][0]):
                want[i] += v
        assert list(result.counts[0]) == want, (result.counts, want)
        print(f"  {n:>7,} ballots: tally+decrypt {t3 - t0:6.2f} s  (aggregate {t1 - t0:.2f} s, "
              f"3 trustees' shares {t2 - t1:.2f} s, verify+combine+dlog {t3 - t2:.2f} s)  "
              f"counts {want}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    a = ap.parse_args()
    n_raw, n_ballots = (500, 5) if a.quick else (3000, 40)
    sizes = [1000, 5000] if a.quick else [10_000, 100_000]
    costs = raw_costs(n_raw)
    print("raw libsodium costs (CPU time, best of 5 runs)")
    print(f"  ristretto255 scalar mult (variable base) {costs['mult'] * 1e6:7.1f} us")
    print(f"  ristretto255 scalar mult (fixed base G)  {costs['base'] * 1e6:7.1f} us")
    print(f"  ristretto255 point addition              {costs['add'] * 1e6:7.1f} us")
    print(f"  ristretto255 point validation            {costs['valid'] * 1e6:7.1f} us")
    print(f"  Ed25519 signature verification           {costs['ed25519'] * 1e6:7.1f} us")
    for b in point_sums_backends():
        print(f"  one point into a running sum, {b + ':':10}  {costs[f'sum_{b}'] * 1e6:7.1f} us"
              + ("   (this process's backend)" if b == point_sums.BACKEND else ""))
    single = ceremony(SINGLE)
    bench_ballot("5-option single-choice contest", SINGLE, tr.joint_key(single.qualified), n_ballots, costs)
    rating = ceremony(RATING)
    bench_ballot("10-item rating contest (11 levels, one-hot)", RATING, tr.joint_key(rating.qualified),
                 max(3, n_ballots // 8), costs)
    print("\ntally + threshold decryption, 5-option single choice, 3 of 5 trustees")
    bench_tally(SINGLE, single, sizes, pool_size=200)


if __name__ == "__main__":
    main()
