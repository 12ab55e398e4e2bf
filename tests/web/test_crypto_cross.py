"""Ballot cryptography in the browser (web/src/crypto, web/src/manifest.js) against Python.

* The JavaScript group reproduces the known-answer vectors (tests/vectors/crypto).
* From the vectors' seeds the JavaScript encryption reproduces the vector ballots byte
  for byte (same nonces, same proofs, same encoding).
* The JavaScript verifier accepts the vector ballots and rejects their mutations with
  the same error code as ``verify_ballot``.
* Ballots made by the JavaScript code with fresh randomness verify in Python, and
  their spoiled form opens to the chosen selections in Python's ``verify_spoiled``.
* Manifest checks and selection checks give the same verdicts.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from ballot_tx.codec import decode, encode
from ballot_tx.crypto import group as g
from ballot_tx.crypto.ballot import BallotSecrets, EncryptedBallot, verify_ballot, verify_spoiled
from ballot_tx.errors import BallotchainError
from ballot_tx.manifest import (
    Image,
    Label,
    Manifest,
    check_selections,
    election_id,
    validate_manifest,
)
from tests.ballot_tx.crypto.helpers import (
    CRED,
    KEY,
    contest,
    forge_top_bit_ballot,
    manifest,
    manifests,
    valid_selections,
)
from tests.ballot_tx.crypto.test_manifest import GOOD_PROVIDERS, provider_variants
from tests.conftest import thorough
from tests.web.jsbridge import ROOT, run_js

VECTORS = json.loads((ROOT / "tests" / "vectors" / "crypto" / "vectors.json").read_text())
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
M = manifest(
    (contest("mayor", "single", 3), contest("council", "multiple", 4, 1, 2), contest("pledges", "rating", 2))
)


def codes(results: list[dict[str, Any]]) -> list[Any]:
    return [r.get("error", "ok") for r in results]


def py_code(fn: Any) -> str:
    try:
        fn()
    except BallotchainError as e:
        return str(e.code)
    return "ok"


def test_group_reproduces_the_vectors() -> None:
    gv = VECTORS["group"]
    reqs: list[dict[str, Any]] = [{"op": "group", "fn": "generator"}]
    want: list[Any] = [gv["G"]]
    for v in gv["base_mult"]:
        reqs.append({"op": "group", "fn": "base", "s": v["scalar"]})
        want.append(v["point"])
    for v in gv["mult"]:
        reqs.append({"op": "group", "fn": "mul", "s": v["scalar"], "p": v["point"]})
        want.append(v["result"])
    a = gv["add"]
    reqs += [{"op": "group", "fn": "add", "p": a["p"], "q": a["q"]},
             {"op": "group", "fn": "sub", "p": a["p"], "q": a["q"]}]
    want += [a["sum"], a["difference"]]
    for v in gv["hash_to_scalar"]:
        reqs.append({"op": "group", "fn": "hash_to_scalar", "kind": v["kind"], "data": v["data"]})
        want.append(v["scalar"])
    for v in gv["hash_to_point"]:
        reqs.append({"op": "group", "fn": "hash_to_point", "kind": v["kind"], "data": v["data"]})
        want.append(v["point"])
    for m, p in gv["small_multiples"].items():
        reqs.append({"op": "group", "fn": "base", "s": g.sc(int(m)).hex()})
        want.append(p)
    got = run_js(reqs)
    assert [r.get("ok") for r in got] == want
    bad = run_js(
        [{"op": "group", "fn": "point", "p": p} for p in gv["invalid_points"]]
        + [{"op": "group", "fn": "scalar", "s": s} for s in gv["invalid_scalars"]]
    )
    assert codes(bad) == ["CRYPTO_BAD_POINT"] * len(gv["invalid_points"]) + ["CRYPTO_BAD_SCALAR"] * len(
        gv["invalid_scalars"]
    )
    # The identity is refused as a point from the wire unless the caller allows it.
    (ok,) = run_js([{"op": "group", "fn": "point", "p": "00" * 32, "allow_identity": True}])
    assert ok["ok"] == "00" * 32


def test_vector_manifest_has_the_vector_election_id() -> None:
    mv = VECTORS["manifest"]
    got = run_js([{"op": "election_id", "manifest": mv["encoding"]},
                  {"op": "validate_manifest", "manifest": mv["encoding"]}])
    assert got[0]["ok"] == mv["election_id"] and got[1]["ok"] is True


def test_js_reproduces_the_vector_ballots_byte_for_byte() -> None:
    key = VECTORS["ceremony"]["joint_key"]
    reqs = [
        {"op": "encrypt_ballot", "manifest": VECTORS["manifest"]["encoding"], "key": key,
         "credential": b["credential"], "selections": b["selections"], "seed": b["seed"]}
        for b in VECTORS["ballots"]
    ]
    got = run_js(reqs)
    for b, r in zip(VECTORS["ballots"], got, strict=True):
        assert r["ok"]["ballot"] == b["encoding"]
        assert r["ok"]["secrets"] == b["secrets_encoding"]


def mutate_positions(n: int, count: int) -> list[int]:
    """Spread positions over a whole encoding (header, ciphertexts, every proof)."""
    step = max(1, n // count)
    return sorted({*range(0, n, step), n - 1, n - 33, 1, 2, 3, 40})


def py_verify(m: Manifest, key: bytes, cred: bytes, data: bytes) -> str:
    return py_code(lambda: verify_ballot(m, key, cred, decode(EncryptedBallot, data)))


def test_js_verifier_accepts_vectors_and_rejects_every_mutation() -> None:
    m = decode(Manifest, bytes.fromhex(VECTORS["manifest"]["encoding"]))
    key = bytes.fromhex(VECTORS["ceremony"]["joint_key"])
    count = 400 if thorough() else 24
    reqs, want = [], []
    for b in VECTORS["ballots"]:
        enc = bytes.fromhex(b["encoding"])
        cred = bytes.fromhex(b["credential"])
        base = {"op": "verify_ballot", "manifest": VECTORS["manifest"]["encoding"], "key": key.hex(),
                "credential": b["credential"]}
        variants: list[tuple[bytes, bytes, bytes]] = [(enc, key, cred)]
        variants += [(enc, key, bytes(32)), (enc, key, cred[:-1]), (enc, g.base(g.sc(7)), cred)]
        for i in mutate_positions(len(enc), count):
            variants.append((enc[:i] + bytes([enc[i] ^ 0x01]) + enc[i + 1 :], key, cred))
        for data, k, c in variants:
            reqs.append({**base, "ballot": data.hex(), "key": k.hex(), "credential": c.hex()})
            want.append(py_verify(m, k, c, data))
    got = codes(run_js(reqs))
    assert got == want
    per_ballot = len(got) // len(VECTORS["ballots"])
    assert got[0] == "ok" and got.count("ok") == len(VECTORS["ballots"]), "only the originals verify"
    assert {"CRYPTO_BAD_PROOF", "CRYPTO_BAD_POINT"} <= set(got), per_ballot


def test_js_spoiled_ballot_opens_in_both() -> None:
    b = VECTORS["ballots"][0]
    base = {"manifest": VECTORS["manifest"]["encoding"], "key": VECTORS["ceremony"]["joint_key"],
            "credential": b["credential"], "ballot": b["encoding"]}
    secrets = decode(BallotSecrets, bytes.fromhex(b["secrets_encoding"]))
    lied = replace(secrets, selections=((1, 0, 0), *secrets.selections[1:]))
    bad_nonce = replace(secrets, nonces=((b"\xff" * 32, *secrets.nonces[0][1:]), *secrets.nonces[1:]))
    got = run_js([
        {"op": "verify_spoiled", **base, "secrets": b["secrets_encoding"]},
        {"op": "verify_spoiled", **base, "secrets": encode(lied).hex()},
        {"op": "verify_spoiled", **base, "secrets": encode(bad_nonce).hex()},
    ])
    assert got[0]["ok"] == b["selections"]
    assert codes(got[1:]) == ["CRYPTO_SPOILED_MISMATCH", "CRYPTO_BAD_SCALAR"]


@settings(max_examples=20 if thorough() else 3, phases=NO_SHRINK)
@given(st.lists(manifests().flatmap(lambda m: st.tuples(st.just(m), valid_selections(m))),
                min_size=1, max_size=4))
def test_ballots_made_in_js_verify_in_python(cases: list[tuple[Manifest, Any]]) -> None:
    reqs = [{"op": "encrypt_ballot", "manifest": encode(m).hex(), "key": KEY.hex(), "credential": CRED.hex(),
             "selections": [list(s) for s in sel]} for m, sel in cases]
    got = run_js(reqs)
    for (m, sel), r in zip(cases, got, strict=True):
        ballot = decode(EncryptedBallot, bytes.fromhex(r["ok"]["ballot"]))
        secrets = decode(BallotSecrets, bytes.fromhex(r["ok"]["secrets"]))
        verify_ballot(m, KEY, CRED, ballot)
        assert verify_spoiled(m, KEY, CRED, ballot, secrets) == sel
        assert ballot.election_id == election_id(m)
    # fresh randomness: the same vote twice gives two different ballots
    twice = run_js(reqs[:1] * 2)
    assert twice[0]["ok"]["ballot"] != twice[1]["ok"]["ballot"]


def test_invalid_selections_are_refused_alike() -> None:
    bad = [
        [[0, 2, 0], [1, 1, 0, 0], [70, 100]],  # a 2 in a 0/1 slot
        [[1, 1, 0], [1, 1, 0, 0], [70, 100]],  # two in a single choice
        [[0, 1, 0], [0, 0, 0, 0], [70, 100]],  # too few
        [[0, 1, 0], [1, 1, 1, 0], [70, 100]],  # too many
        [[0, 1, 0], [1, 1, 0, 0], [55, 100]],  # rating 55
        [[0, 1, 0], [1, 1, 0, 0], [70, 110]],  # rating 110
        [[0, 1, 0], [1, 1, 0, 0]],  # a contest missing
        [[0, 1], [1, 1, 0, 0], [70, 100]],  # an option missing
        [[0, 1, 0], [1, 1, 0, 0], [70, 100]],  # valid
    ]
    got = run_js([{"op": "check_selections", "manifest": encode(M).hex(), "selections": s} for s in bad])
    want = [py_code(lambda s=s: check_selections(M, tuple(tuple(x) for x in s))) for s in bad]
    assert codes(got) == want == ["CRYPTO_BAD_SELECTION"] * 8 + ["ok"]


def test_manifest_rules_agree() -> None:
    c0, c1, c2 = M.contests
    t0 = M.trustees[0]
    img = Image(b"\x00" * 32, "https://example.org/a b.png")
    variants = [
        M,
        replace(M, version=2),
        replace(M, name="Bad Name"),
        replace(M, title=Label("", "x")),
        replace(M, title=Label("\u3000 ", "x")),  # Python strips the ideographic space
        replace(M, title=Label("\x1c", "x")),  # ... and the file separators
        replace(M, title=Label("\ufeff", "x")),  # ... but not a BOM
        replace(M, title=Label("x", "a\x07")),
        replace(M, title=Label("x", "a\nb")),
        replace(M, contests=()),
        replace(M, contests=(c0, c0)),
        replace(M, contests=(replace(c0, kind="ranked"),)),
        replace(M, contests=(replace(c0, options=c0.options[:1]),)),
        replace(M, contests=(replace(c0, options=(c0.options[0], c0.options[0])),)),
        replace(M, contests=(replace(c0, options=(replace(c0.options[0], image=img), c0.options[1])),)),
        replace(M, contests=(replace(c0, max_selections=2),)),
        replace(M, contests=(replace(c1, min_selections=3, max_selections=2),)),
        replace(M, contests=(replace(c1, max_selections=5),)),
        replace(M, contests=(replace(c1, min_selections=0, max_selections=0),)),
        replace(M, contests=(replace(c2, min_selections=1),)),
        replace(M, contests=tuple(contest(f"r{i}", "rating", 64) for i in range(2))),
        # the ends of a rating scale: fine on a rating, refused elsewhere or when blank
        replace(M, contests=(c0, replace(c2, scale_low=Label("不満《ふまん》", "Poor"), scale_high=Label("満足", "Good")))),
        replace(M, contests=(replace(c0, scale_low=Label("a", "b")),)),
        replace(M, contests=(replace(c1, scale_high=Label("a", "b")),)),
        replace(M, contests=(replace(c2, scale_low=Label("\u3000", "b")),)),
        replace(M, contests=(replace(c2, scale_high=Label("a", "b\x07")),)),
        replace(M, eligibility="anyone"),
        replace(M, end_ms=M.start_ms),
        replace(M, max_ballots_per_voter=0),
        replace(M, max_ballots_per_voter=1001),
        replace(M, max_spoils_per_voter=1001),
        replace(M, max_spoils_per_voter=0, max_ballots_per_voter=1000),
        replace(M, trustees=()),
        replace(M, threshold=0),
        replace(M, threshold=4),
        replace(M, trustees=(t0, t0)),
        replace(M, trustees=(t0, replace(M.trustees[1], x25519_public=t0.x25519_public))),
        replace(M, threshold=1, trustees=(replace(t0, ed25519_public=b"\xff" * 32),)),
        replace(M, threshold=1, trustees=(replace(t0, x25519_public=bytes(32)),)),
        replace(M, name="a" * 64),
        replace(M, name="-a"),
        *provider_variants(M),
    ]
    got = codes(run_js([{"op": "validate_manifest", "manifest": encode(m).hex()} for m in variants]))
    want = [py_code(lambda m=m: validate_manifest(m)) for m in variants]
    assert got == want
    assert got[0] == "ok" and got.count("ok") <= 6 + len(GOOD_PROVIDERS)
    assert got[22:26] == ["MANIFEST_BAD_CONTEST"] * 2 + ["MANIFEST_BAD_FIELD"] * 2


def test_vectors_file_is_where_the_crypto_tests_keep_it() -> None:
    assert Path(ROOT / "tests" / "vectors" / "crypto" / "generate.py").exists()


POINT_VECTORS = json.loads((ROOT / "tests" / "vectors" / "crypto" / "point_encodings.json").read_text())


def test_point_encodings_agree_with_python() -> None:
    """Every canonical and non-canonical encoding of tests/vectors/crypto/point_encodings.json
    (RFC 9496 A.1/A.2 and the bit-255 second encodings) gets one verdict in both."""
    cases = [(POINT_VECTORS["identity"], False), (POINT_VECTORS["identity"], True)]
    cases += [(v["hex"], False) for v in POINT_VECTORS["valid"] + POINT_VECTORS["invalid"]]
    got = codes(run_js([{"op": "group", "fn": "point", "p": p, "allow_identity": a} for p, a in cases]))
    want = [py_code(lambda p=p, a=a: g.point(bytes.fromhex(p), "point", a)) for p, a in cases]
    assert got == want
    n_valid, n_invalid = len(POINT_VECTORS["valid"]), len(POINT_VECTORS["invalid"])
    assert want == ["CRYPTO_BAD_POINT", "ok"] + ["ok"] * n_valid + ["CRYPTO_BAD_POINT"] * n_invalid


def test_ballot_over_a_second_encoding_is_refused_by_both() -> None:
    sel = ((0, 1, 0), (1, 1, 0, 0), (70, 100))
    forged = forge_top_bit_ballot(M, KEY, CRED, sel)
    (js,) = run_js([{"op": "verify_ballot", "manifest": encode(M).hex(), "key": KEY.hex(),
                     "credential": CRED.hex(), "ballot": encode(forged).hex()}])
    assert js.get("error") == py_verify(M, KEY, CRED, encode(forged)) == "CRYPTO_BAD_POINT"
