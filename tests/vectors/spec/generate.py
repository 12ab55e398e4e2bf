"""Write the docs/spec known-answer vectors (tests/vectors/spec/*.json) from the project's code.

    python tests/vectors/spec/generate.py        # rewrite the files (on purpose only)

``tests/spec/test_spec_vectors.py`` checks that a fresh run gives the same files and that
the independent verifier (tests/independent/independent_verifier.py) computes every answer too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from ballot_tx import lthash  # noqa: E402
from ballot_tx.block import merkle_proof, merkle_root, tx_hash  # noqa: E402
from ballot_tx.codec import domain, encode, hash_bytes, pack  # noqa: E402
from ballot_tx.crypto import group  # noqa: E402
from ballot_tx.keys import KeyPair, node_id, signing_bytes  # noqa: E402
from genesis.document import from_json, genesis_hash, to_json  # noqa: E402

SEED = bytes(range(32))


def _encoding() -> dict[str, Any]:
    ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1,
            -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]
    values: list[tuple[str, Any]] = [(f"int {i}", i) for i in ints]
    values += [("nil", None), ("false", False), ("true", True),
               ("str empty", ""), ("str 31 bytes", "a" * 31), ("str 32 bytes", "a" * 32),
               ("str 256 bytes", "b" * 256), ("str Japanese (UTF-8)", "つくば市"),
               ("bin empty", b""), ("bin 32", bytes(range(32))), ("bin 256", bytes(256)),
               ("array empty", []), ("array 15", list(range(15))), ("array 16", list(range(16))),
               ("nested", [1, [b"\x01", "x", None, [True]]])]

    def plain(v: Any) -> Any:
        if isinstance(v, bytes):
            return {"bin": v.hex()}
        if isinstance(v, list):
            return {"array": [plain(x) for x in v]}
        return v

    refused = [
        ("int 5 in two bytes (not the smallest form)", "cc05"),
        ("int 200 as uint16", "cd00c8"),
        ("str 3 bytes as str8", "d903616263"),
        ("bin 1 byte as bin16", "c5000101"),
        ("array of 1 as array16", "dc000101"),
        ("map (never in canonical form)", "80"),
        ("float32", "ca3f800000"),
        ("float64", "cb3ff0000000000000"),
        ("ext", "d40100"),
        ("trailing byte", "0100"),
        ("truncated array", "9201"),
        ("reserved type byte 0xc1", "c1"),
    ]
    return {
        "description": "Canonical msgpack (docs/spec/encoding.md): each value encodes to exactly "
                       "`hex`; every `refused` input must be refused by a strict decoder.",
        "values": [{"name": n, "value": plain(v), "hex": pack(v).hex()} for n, v in values],
        "refused": [{"name": n, "hex": h} for n, h in refused],
    }


HASH_KINDS = ["genesis", "block-header", "tx", "manifest", "encrypted-tally", "merkle/leaf",
              "merkle/node", "merkle/empty", "state-root", "node-id", "crypto/ballot",
              "crypto/decryption", "crypto/coefficient", "otc-seed", "seed/ed25519", "seed/x25519",
              "keyfile-check"]


def _hashes() -> dict[str, Any]:
    data = b"ballotchain"
    cases = [{"kind": k, "data": data.hex(), "domain": domain(k).hex(), "sha256": hash_bytes(k, data).hex()}
             for k in HASH_KINDS]
    share_nonce = __import__("hashlib").sha256(domain("crypto/share-nonce") + data).digest()[:24]
    scalars = []
    for kind in ("crypto/range", "crypto/schnorr", "crypto/dleq", "crypto/prover-nonce",
                 "crypto/ballot-nonce", "crypto/dkg-coefficient"):
        digest = __import__("hashlib").sha512(domain(kind) + data).digest()
        scalars.append({"kind": kind, "data": data.hex(), "sha512": digest.hex(),
                        "scalar": group.sc(group.hash_to_scalar(kind, data)).hex()})
    return {
        "description": "Hash kinds (docs/spec/encoding.md): sha256 = SHA-256(domain || data) with "
                       "domain = 'ballotchain/v1/' || kind || 0x00; scalar = the 32-byte little-endian "
                       "encoding of (SHA-512(domain || data) read little-endian) mod L.",
        "sha256": cases,
        "share_nonce": {"data": data.hex(), "nonce": share_nonce.hex()},
        "scalars": scalars,
    }


def _merkle() -> dict[str, Any]:
    cases = []
    for n in range(0, 10):
        items = [tx_hash(bytes([i])) for i in range(n)]
        case: dict[str, Any] = {"items": [i.hex() for i in items], "root": merkle_root(items).hex()}
        if n:
            p = merkle_proof(items, n - 1)
            case["proof_of_last"] = {"index": p.index, "size": p.size, "path": [x.hex() for x in p.path]}
        cases.append(case)
    return {
        "description": "Transaction Merkle roots (docs/spec/encoding.md): leaves are the items (tx "
                       "hashes, here H_tx(byte i)); root of no items is H_merkle/empty('').",
        "cases": cases,
    }


def _lthash() -> dict[str, Any]:
    records = [(b"E" + bytes(32), b"\x99"), (b"X" + bytes(range(32)), (123).to_bytes(8, "big")),
               (b"O", b"\x91\x90")]
    lt = lthash.LtHash()
    steps = [{"op": "empty", "root": lt.root().hex()}]
    for k, v in records:
        lt.add(k, v)
        steps.append({"op": "add", "key": k.hex(), "value": v.hex(), "root": lt.root().hex()})
    k, v = records[0]
    lt.remove(k, v)
    steps.append({"op": "remove", "key": k.hex(), "value": v.hex(), "root": lt.root().hex()})
    one = lthash.LtHash()
    one.add(*records[1])
    return {
        "description": "State root (docs/spec/state.md): LtHash16 of the records, then "
                       "H_state-root(2048-byte digest). `lanes_of_one` is the packed digest of the "
                       "single record records[1].",
        "steps": steps,
        "lanes_of_one": one.packed().hex(),
    }


def _signatures() -> dict[str, Any]:
    keys = KeyPair.from_seed(SEED)
    chain_id = hash_bytes("genesis", b"example")
    body = pack([0, 7, bytes(32)])
    out = []
    for kind in ("tx", "pbft/commit"):
        sb = signing_bytes(kind, chain_id, body)
        out.append({"kind": kind, "chain_id": chain_id.hex(), "body": body.hex(),
                    "signed_bytes": sb.hex(), "signature": keys.sign(kind, chain_id, body).hex()})
    return {
        "description": "Signatures (docs/spec/encoding.md): Ed25519 (RFC 8032) over "
                       "domain('sig/' || kind) || chain_id || body. Keys from seed: "
                       "ed25519 seed = H_seed/ed25519(seed).",
        "seed": SEED.hex(),
        "ed25519_seed": keys.ed25519_seed.hex(),
        "ed25519_public": keys.ed25519_public.hex(),
        "node_id": node_id(keys.ed25519_public),
        "cases": out,
    }


def _genesis() -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parents[2]))
    from tests.ballot_tx.state.helpers import make_genesis

    g = make_genesis()
    text = to_json(g)
    assert genesis_hash(from_json(text)) == genesis_hash(g)
    return {
        "description": "Genesis (docs/spec/genesis.md): `json` parses to the canonical bytes "
                       "`canonical`; the chain id is H_genesis(canonical).",
        "json": text,
        "canonical": encode(g).hex(),
        "chain_id": genesis_hash(g).hex(),
    }


def generate() -> dict[str, dict[str, Any]]:
    return {"encoding": _encoding(), "hashes": _hashes(), "merkle": _merkle(), "lthash": _lthash(),
            "signatures": _signatures(), "genesis": _genesis()}


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for name, doc in generate().items():
        (HERE / f"{name}.json").write_text(dumps(doc))
        print(f"wrote {HERE / (name + '.json')}")
