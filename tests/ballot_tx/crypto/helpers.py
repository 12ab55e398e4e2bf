"""Shared builders and hypothesis strategies for the crypto tests."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from ballot_tx.crypto import elgamal
from ballot_tx.crypto import group as g
from ballot_tx.crypto.ballot import (
    EncryptedBallot,
    EncryptedContest,
    ballot_context,
    encrypt_ballot,
    plaintexts,
    sum_ranges,
)
from ballot_tx.crypto.proofs import SchnorrProof, prove_range
from ballot_tx.crypto.trustees import TrusteeCommitment, coefficient_context, make_commitment
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
    if kind == "rating":  # with or without the labels of the ends of its scale
        c = contest(f"c{idx}", kind, draw(st.integers(1, 3)))
        end = st.none() | st.builds(Label, st.sampled_from(["まったく", "｜十分《じゅうぶん》"]),
                                    st.sampled_from(["Not at all", "Fully"]))
        return replace(c, scale_low=draw(end), scale_high=draw(end))
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


# --- second encodings of a point (issue 11 item 4) ----------------------------------


def with_top_bit(p: bytes) -> bytes:
    """``p`` with bit 255 set: libsodium 1.0.18 decodes it to the same point as ``p``,
    RFC 9496 (and libsodium >= 1.0.19, libsodium.js) refuse it."""
    return p[:31] + bytes([p[31] | 0x80])


def forge_top_bit_ballot(
    m: Manifest, key: bytes, cred: bytes, selections: Selections, seed: bytes = b"\x05" * 32
) -> EncryptedBallot:
    """A voter's own genuine ballot with contest 0 ciphertext 0's alpha re-encoded with
    bit 255 set, and every proof re-made over those bytes with the voter's nonces (what
    a voter can do: the proofs are sound for the decoded point, only the bytes differ)."""
    ballot, secrets = encrypt_ballot(m, key, cred, selections, seed=seed)
    genuine = [list(ec.ciphertexts) for ec in ballot.contests]
    cts = [list(ec.ciphertexts) for ec in ballot.contests]
    cts[0][0] = replace(cts[0][0], alpha=with_top_bit(cts[0][0].alpha))
    bare = tuple(EncryptedContest(tuple(x), (), ()) for x in cts)
    ctx = ballot_context(ballot.election_id, key, cred, bare)
    contests = []
    # the sums' proofs are over the decoded points, the same as the genuine ciphertexts'
    for c, cl, gl, sel, nonces in zip(m.contests, cts, genuine, secrets.selections, secrets.nonces, strict=True):
        p = plaintexts(c, sel)
        rs = [g.sc_int(r) for r in nonces]
        bits = tuple(prove_range(ct, key, v, r, 0, 1, ctx, seed) for ct, v, r in zip(cl, p, rs, strict=True))
        sums = tuple(
            prove_range(elgamal.sum_ciphertexts(gl[s : s + n]), key, sum(p[s : s + n]), sum(rs[s : s + n]),
                        lo, hi, ctx, seed)
            for s, n, lo, hi in sum_ranges(c)
        )
        contests.append(EncryptedContest(tuple(cl), bits, sums))
    return EncryptedBallot(ballot.election_id, tuple(contests))


def forge_top_bit_commitment(m: Manifest, index: int, coeffs: tuple[int, ...], k: int = 0) -> TrusteeCommitment:
    """Trustee ``index``'s genuine commitment with ``A_k`` re-encoded with bit 255 set and
    its Schnorr proof re-made over those bytes (the trustee knows ``a_k``)."""
    c = make_commitment(m, index, coeffs)
    big_a = with_top_bit(c.commitments[k])
    ctx = coefficient_context(c.election_id, index, k)
    w = g.hash_to_scalar("test/forge-nonce", ctx)
    ch = g.hash_to_scalar("crypto/schnorr", ctx, big_a, g.base(g.sc(w)))
    proof = SchnorrProof(g.sc(ch), g.sc(w + ch * coeffs[k]))
    commits = (*c.commitments[:k], big_a, *c.commitments[k + 1 :])
    return replace(c, commitments=commits, proofs=(*c.proofs[:k], proof, *c.proofs[k + 1 :]))
