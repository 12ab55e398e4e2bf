"""Shared builders and hypothesis strategies for the crypto tests."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from ballot_tx.crypto import group as g
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import (
    MAX_PER_VOTER,
    RATING_LEVELS,
    Contest,
    Label,
    Manifest,
    Option,
    Selections,
    TrusteeInfo,
)

L1 = Label("候補", "Candidate")


def trustee_keys(n: int) -> list[KeyPair]:
    return [KeyPair.from_seed(bytes([0x70 + i]) * 32) for i in range(n)]


def contest(cid: str, kind: str, n: int, lo: int | None = None, hi: int | None = None) -> Contest:
    opts = tuple(Option(f"{cid}-o{i}", Label(f"選択{i}", f"Option {i}"), None) for i in range(n))
    if kind == "single":
        lo, hi = 1, 1
    elif kind == "rating":
        lo, hi = n, n
    assert lo is not None and hi is not None
    return Contest(cid, kind, Label(f"質問 {cid}", f"Question {cid}"), opts, lo, hi)


def manifest(
    contests: tuple[Contest, ...], n_trustees: int = 3, threshold: int = 2, nonce: bytes = bytes(32)
) -> Manifest:
    keys = trustee_keys(n_trustees)
    return Manifest(
        version=1,
        name="test-election",
        title=Label("テスト選挙", "Test election"),
        contests=contests,
        eligibility="registered-key",
        start_ms=1_700_000_000_000,
        end_ms=1_700_086_400_000,
        revoting=True,
        trustees=tuple(
            TrusteeInfo(f"trustee-{i}", k.ed25519_public, k.x25519_public) for i, k in enumerate(keys)
        ),
        threshold=threshold,
        nonce=nonce,
    )


SECRET = 0x1234567890ABCDEF1234567890ABCDEF
KEY = g.base(g.sc(SECRET))
CRED = bytes(range(32))


@st.composite
def contests(draw: st.DrawFn, idx: int) -> Contest:
    kind = draw(st.sampled_from(["single", "multiple", "rating"]))
    if kind == "rating":
        return contest(f"c{idx}", kind, draw(st.integers(1, 3)))
    n = draw(st.integers(2, 5))
    if kind == "single":
        return contest(f"c{idx}", kind, n)
    lo = draw(st.integers(0, n))
    hi = draw(st.integers(max(lo, 1), n))
    return contest(f"c{idx}", kind, n, lo, hi)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    k = draw(st.integers(1, 3))
    m = manifest(tuple(draw(contests(i)) for i in range(k)))
    return replace(m, max_spoils_per_voter=draw(st.integers(0, MAX_PER_VOTER)),
                   max_ballots_per_voter=draw(st.integers(1, MAX_PER_VOTER)))


@st.composite
def valid_selection(draw: st.DrawFn, c: Contest) -> tuple[int, ...]:
    n = len(c.options)
    if c.kind == "rating":
        return tuple(draw(st.sampled_from(RATING_LEVELS)) for _ in range(n))
    k = draw(st.integers(c.min_selections, c.max_selections))
    chosen = set(draw(st.permutations(range(n)))[:k])
    return tuple(1 if i in chosen else 0 for i in range(n))


@st.composite
def valid_selections(draw: st.DrawFn, m: Manifest) -> Selections:
    return tuple(draw(valid_selection(c)) for c in m.contests)
