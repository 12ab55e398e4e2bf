"""Known-answer vectors: the committed JSON must equal a fresh run of its generator,
and its objects must decode and verify (so the file is also a usable test corpus)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ballot_tx.codec import decode
from ballot_tx.crypto import decryption
from ballot_tx.crypto import group as g
from ballot_tx.crypto import tally as ty
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.ballot import EncryptedBallot, verify_ballot
from ballot_tx.errors import CryptoError
from ballot_tx.manifest import Manifest, election_id

VEC_DIR = Path(__file__).resolve().parents[2] / "vectors" / "crypto"

#: RFC 9496, appendix A.1: encodings of small multiples of the ristretto255 generator.
RFC9496_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crypto_vectors_gen", VEC_DIR / "generate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VEC_DIR / "vectors.json").read_text(encoding="utf-8"))
    return data


def test_vectors_match_a_fresh_generation(vectors: dict[str, Any]) -> None:
    fresh = json.loads(_generator().render(_generator().generate()))
    assert fresh == vectors, (
        "crypto encoding or hashing changed: if intended, run "
        "`python tests/vectors/crypto/generate.py` and review the diff"
    )


def test_group_matches_rfc9496(vectors: dict[str, Any]) -> None:
    for m, enc in enumerate(RFC9496_MULTIPLES):
        assert vectors["group"]["small_multiples"][str(m)] == enc
        assert g.small_multiple(m).hex() == enc
    for bad in vectors["group"]["invalid_points"]:
        with pytest.raises(CryptoError):
            g.point(bytes.fromhex(bad))


def test_vector_objects_decode_and_verify(vectors: dict[str, Any]) -> None:
    m = decode(Manifest, bytes.fromhex(vectors["manifest"]["encoding"]))
    assert election_id(m).hex() == vectors["manifest"]["election_id"]
    commits = [decode(tr.TrusteeCommitment, bytes.fromhex(t["encoding"]))
               for t in vectors["ceremony"]["trustees"]]
    q = tr.qualified(m, commits)
    key = tr.joint_key(q)
    assert key.hex() == vectors["ceremony"]["joint_key"]
    ballots = []
    for b in vectors["ballots"]:
        ballot = decode(EncryptedBallot, bytes.fromhex(b["encoding"]))
        verify_ballot(m, key, bytes.fromhex(b["credential"]), ballot)
        ballots.append(ballot)
    tally = decode(ty.EncryptedTally, bytes.fromhex(vectors["tally"]["encoding"]))
    assert tally == ty.aggregate(m, ballots)
    shares = [decode(decryption.DecryptionShare, bytes.fromhex(d["encoding"]))
              for d in vectors["tally"]["decryption_shares"]]
    result = decode(decryption.TallyResult, bytes.fromhex(vectors["tally"]["result_encoding"]))
    decryption.verify_result(m, q, tally, shares, result)
    assert [list(r) for r in result.counts] == vectors["tally"]["counts"]
