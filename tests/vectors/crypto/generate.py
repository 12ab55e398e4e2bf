"""Known-answer vectors for ballot cryptography, with every intermediate value.

    python tests/vectors/crypto/generate.py          # rewrite vectors.json
    python tests/vectors/crypto/generate.py --check  # exit 1 if vectors.json differs

Everything is derived from fixed seeds, so the output is a pure function of the
code; tests/ballot_tx/crypto/test_vectors.py re-runs ``generate()`` and compares it with the
committed JSON, so any change in encoding, hashing or proof layout shows up. An
independent implementation (the browser client) can check itself against the same
file: all bytes are lowercase hex, scalars 32-byte little-endian, points 32-byte
ristretto255 encodings, ``H_kind`` as in README "Ballot cryptography".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ballot_tx.codec import digest, domain, encode  # noqa: E402
from ballot_tx.crypto import decryption, elgamal  # noqa: E402
from ballot_tx.crypto import group as g  # noqa: E402
from ballot_tx.crypto import tally as ty  # noqa: E402
from ballot_tx.crypto import trustees as tr  # noqa: E402
from ballot_tx.crypto.ballot import (  # noqa: E402
    ballot_context,
    encrypt_ballot,
    plaintexts,
    sum_ranges,
    verify_ballot,
)
from ballot_tx.crypto.elgamal import Ciphertext  # noqa: E402
from ballot_tx.crypto.proofs import RangeProof  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from ballot_tx.manifest import (  # noqa: E402
    Contest,
    Image,
    Label,
    Manifest,
    Option,
    TrusteeInfo,
    election_id,
    validate_manifest,
)

OUT = Path(__file__).with_name("vectors.json")


def h(b: bytes) -> str:
    return b.hex()


def s(x: int) -> str:
    return g.sc(x).hex()


def group_vectors() -> dict[str, Any]:
    scalars = [1, 2, 7, 2**200 + 12345, g.L - 1]
    return {
        "order_L": str(g.L),
        "G": h(g.G),
        "identity": h(g.IDENTITY),
        "small_multiples": {str(m): h(g.small_multiple(m)) for m in range(0, 6)},
        "base_mult": [{"scalar": s(x), "point": h(g.base(g.sc(x)))} for x in scalars],
        "mult": [
            {"scalar": s(x), "point": h(g.small_multiple(3)), "result": h(g.mul(g.sc(x), g.small_multiple(3)))}
            for x in scalars
        ],
        "add": {"p": h(g.small_multiple(2)), "q": h(g.small_multiple(3)),
                "sum": h(g.add(g.small_multiple(2), g.small_multiple(3))),
                "difference": h(g.sub(g.small_multiple(2), g.small_multiple(3)))},
        "domain_example": {"kind": "crypto/range", "prefix": h(domain("crypto/range"))},
        "hash_to_scalar": [
            {"kind": "crypto/test", "data": h(d), "scalar": s(g.hash_to_scalar("crypto/test", d))}
            for d in [b"", b"ballotchain", bytes(range(64))]
        ],
        "hash_to_point": [
            {"kind": "crypto/test", "data": h(d), "point": h(g.hash_to_point("crypto/test", d))}
            for d in [b"", b"ballotchain"]
        ],
        "invalid_points": [h(b"\xff" * 32), h((2**255 - 18).to_bytes(32, "little")),
                           h(b"\x01" + bytes(31)), h(g.IDENTITY)],
        "invalid_scalars": [h(g.L.to_bytes(32, "little")), h(b"\xff" * 32)],
    }


def trustee_keys(n: int) -> list[KeyPair]:
    return [KeyPair.from_seed(bytes([0xA0 + i]) * 32) for i in range(n)]


def example_manifest() -> Manifest:
    keys = trustee_keys(3)
    opt = lambda i, ja, en: Option(f"o{i}", Label(ja, en), None)  # noqa: E731
    m = Manifest(
        version=1,
        name="tsukuba-2026-demo",
        title=Label("つくば市 模擬選挙 2026", "Tsukuba mock election 2026"),
        contests=(
            Contest("mayor", "single", Label("市長", "Mayor"), (
                Option("o0", Label("山田 花子", "Hanako Yamada"),
                       Image(bytes(range(32)), "https://city.example/img/yamada.png")),
                opt(1, "佐藤 太郎", "Taro Sato"), opt(2, "鈴木 一郎", "Ichiro Suzuki")), 1, 1),
            Contest("projects", "multiple", Label("事業", "Projects"), (
                opt(0, "公園", "Park"), opt(1, "図書館", "Library"), opt(2, "バス", "Bus")), 1, 2),
            Contest("pledges", "rating", Label("公約評価", "Pledge evaluation"), (
                opt(0, "子育て支援", "Child care"), opt(1, "交通", "Transport")), 2, 2,
                Label("不満《ふまん》", "Dissatisfied"), Label("満足", "Satisfied")),
        ),
        eligibility="registered-key",
        start_ms=1_790_000_000_000,
        end_ms=1_790_086_400_000,
        revoting=True,
        trustees=tuple(TrusteeInfo(f"trustee-{i + 1}", k.ed25519_public, k.x25519_public)
                       for i, k in enumerate(keys)),
        threshold=2,
        nonce=bytes([0x42]) * 32,
    )
    validate_manifest(m)
    return m


def range_proof_detail(pr: RangeProof, ct: Ciphertext, key: bytes, lo: int, hi: int,
                       ctx: bytes) -> dict[str, Any]:
    """The proof with the verifier's intermediate values (a_j, b_j, challenge)."""
    branches = []
    parts = [ctx, ct.alpha, ct.beta, lo.to_bytes(4, "little"), hi.to_bytes(4, "little")]
    for j, (c, z) in enumerate(zip(pr.c, pr.z, strict=True)):
        mj = lo + j
        bm = ct.beta if mj == 0 else g.sub(ct.beta, g.small_multiple(mj))
        a = g.sub(g.base(z), g.mul(c, ct.alpha))
        b = g.sub(g.mul(z, key), g.mul(c, bm))
        parts += [a, b]
        branches.append({"m": mj, "c": h(c), "z": h(z), "a": h(a), "b": h(b)})
    challenge = g.hash_to_scalar("crypto/range", *parts)
    assert sum(g.sc_int(c) for c in pr.c) % g.L == challenge
    return {"lo": lo, "hi": hi, "alpha": h(ct.alpha), "beta": h(ct.beta), "branches": branches,
            "challenge": s(challenge)}


def generate() -> dict[str, Any]:
    m = example_manifest()
    eid = election_id(m)
    keys = trustee_keys(3)
    out: dict[str, Any] = {"about": __doc__.strip().splitlines()[0], "group": group_vectors()}
    out["manifest"] = {"encoding": h(encode(m)), "election_id": h(eid)}

    # --- key ceremony (polynomials from fixed seeds)
    coeffs = {i: tr.polynomial(m, i, keys[i - 1], seed=bytes([0xC0 + i]) * 32) for i in (1, 2, 3)}
    commits = {i: tr.make_commitment(m, i, coeffs[i]) for i in coeffs}
    cer: dict[str, Any] = {"trustees": []}
    received: dict[int, dict[int, int]] = {j: {} for j in coeffs}
    for i in coeffs:
        c = commits[i]
        boxes = tr.make_shares(m, i, keys[i - 1], coeffs[i], c)
        for b in boxes:
            received[b.recipient][i] = tr.open_share(m, keys[b.recipient - 1], c, b)
        cer["trustees"].append({
            "index": i,
            "x25519_secret": h(keys[i - 1].x25519_secret),
            "coefficients": [s(a) for a in coeffs[i]],
            "commitments": [h(a) for a in c.commitments],
            "schnorr": [
                {"context": h(tr.coefficient_context(eid, i, k)), "c": h(p.c), "z": h(p.z),
                 "R": h(g.sub(g.base(p.z), g.mul(p.c, c.commitments[k])))}
                for k, p in enumerate(c.proofs)
            ],
            "encoding": h(encode(c)),
            "digest": h(digest(c)),
            "shares": [{"to": b.recipient, "value": s(tr.evaluate(coeffs[i], b.recipient)),
                        "box": h(b.box)} for b in boxes],
        })
    q = tr.qualified(m, commits.values())
    key = tr.joint_key(q)
    xs = {j: tr.combined_share(m, j, coeffs[j], received[j], q) for j in coeffs}
    cer["joint_commitments"] = [h(x) for x in tr.joint_commitments(q)]
    cer["joint_key"] = h(key)
    cer["combined_shares"] = {str(j): s(x) for j, x in xs.items()}
    cer["verification_keys"] = {str(j): h(tr.verification_key(q, j)) for j in coeffs}
    out["ceremony"] = cer

    # --- ballots
    votes = [
        ((0, 1, 0), (1, 0, 1), (70, 100)),
        ((1, 0, 0), (0, 1, 0), (0, 50)),
        ((0, 1, 0), (1, 1, 0), (100, 100)),
    ]
    ballots = []
    bout = []
    for n, sel in enumerate(votes):
        cred = KeyPair.from_seed(bytes([0xE0 + n]) * 32).ed25519_public
        ballot, secrets = encrypt_ballot(m, key, cred, sel, seed=bytes([0xB0 + n]) * 32)
        verify_ballot(m, key, cred, ballot)
        ballots.append(ballot)
        ctx = ballot_context(eid, key, cred, ballot.contests)
        contests = []
        for c, ec, sl, rs in zip(m.contests, ballot.contests, sel, secrets.nonces, strict=True):
            pts = plaintexts(c, sl)
            contests.append({
                "plaintexts": pts,
                "nonces": [h(r) for r in rs],
                "bit_proofs": [range_proof_detail(pr, ct, key, 0, 1, ctx)
                               for ct, pr in zip(ec.ciphertexts, ec.bit_proofs, strict=True)],
                "sum_proofs": [
                    range_proof_detail(pr, elgamal.sum_ciphertexts(ec.ciphertexts[a : a + k]),
                                       key, lo, hi, ctx) | {"first": a, "count": k}
                    for (a, k, lo, hi), pr in zip(sum_ranges(c), ec.sum_proofs, strict=True)
                ],
            })
        bout.append({"credential": h(cred), "selections": [list(x) for x in sel],
                     "seed": h(bytes([0xB0 + n]) * 32), "context": h(ctx), "contests": contests,
                     "encoding": h(encode(ballot)), "digest": h(digest(ballot)),
                     "secrets_encoding": h(encode(secrets))})
    out["ballots"] = bout

    # --- tally and decryption by trustees 1 and 3
    tally = ty.aggregate(m, ballots)
    td = digest(tally)
    dshares = [decryption.make_decryption_share(m, tally, j, xs[j]) for j in (1, 3)]
    dec = []
    for d in dshares:
        y = tr.verification_key(q, d.trustee)
        ctx = decryption.share_context(eid, td, d.trustee)
        slots = []
        for slots_ct, pts, prs in zip(tally.contests, d.shares, d.proofs, strict=True):
            for ct, big_m, pr in zip(slots_ct, pts, prs, strict=True):
                a = g.sub(g.base(pr.z), g.mul(pr.c, y))
                b = g.sub(g.mul(pr.z, ct.alpha), g.mul(pr.c, big_m))
                assert g.sc(g.hash_to_scalar("crypto/dleq", ctx, y, ct.alpha, big_m, a, b)) == pr.c
                slots.append({"M": h(big_m), "c": h(pr.c), "z": h(pr.z), "a": h(a), "b": h(b)})
        dec.append({"trustee": d.trustee, "context": h(ctx), "slots": slots, "encoding": h(encode(d))})
    result = decryption.decrypt_tally(m, q, tally, dshares)
    decryption.verify_result(m, q, tally, dshares, result)
    out["tally"] = {
        "encoding": h(encode(tally)),
        "digest": h(td),
        "decryption_shares": dec,
        "lagrange": {"trustees": [1, 3], "coefficients": [s(x) for x in decryption.lagrange_at_zero([1, 3])]},
        "decrypted_points": [[h(p) for p in row] for row in decryption.combine(tally, dshares)],
        "counts": [list(r) for r in result.counts],
        "result_encoding": h(encode(result)),
    }
    return out


def render(v: dict[str, Any]) -> str:
    return json.dumps(v, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = render(generate())
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
