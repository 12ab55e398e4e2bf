"""Generate the state-transition vectors: ``python tests/vectors/chain/generate.py``.

A small deterministic election (3 voters, one re-vote, one spoiled ballot,
trustees 1 and 3 decrypting) is run in-process; every block becomes a valid
case, and tampered variants of some blocks become error cases. Each case holds
the complete state before the block, so another implementation can check
itself against the file without running anything else. Format: README.md.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from ballot_tx.block import Block, make_block  # noqa: E402
from ballot_tx.codec import encode, hash_bytes  # noqa: E402
from ballot_tx.errors import BlockError  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from ballot_tx.lthash import LtHash  # noqa: E402
from ballot_tx.state.execute import apply_block  # noqa: E402
from ballot_tx.state.snapshot import MemoryBase, State  # noqa: E402
from ballot_tx.tx import (  # noqa: E402
    CastBallot,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    Tx,
    decode_tx,
    sign_tx,
)
from genesis.document import Genesis, genesis_hash  # noqa: E402
from harness.localchain import LocalChain  # noqa: E402
from tests.ballot_tx.state.helpers import (  # noqa: E402
    ADMIN,
    REGISTRAR,
    ROLES,
    TRUSTEES,
    VALIDATORS,
    make_genesis,
)

OUT = Path(__file__).resolve().parent / "vectors.json"
NAME = "vectors"


def voter_key(i: int) -> KeyPair:
    return KeyPair.from_seed(hash_bytes("demo-voter", NAME.encode() + bytes([i % 256, i // 256])))


def snapshot(st: State, base: MemoryBase) -> dict[str, Any]:
    return {
        "height": st.height,
        "block_hash": st.block_hash.hex(),
        "time_ms": st.time_ms,
        "state_root": st.root.hex(),
        "records": [[k.hex(), v.hex()] for k, v in sorted(base.records.items())],
    }


def rebuild(block: Block, txs: list[bytes], **header: Any) -> Block:
    h = dataclasses.replace(block.header, **header)
    b = make_block(h.height, h.prev_hash, h.time_ms, h.proposer, h.state_root, txs)
    return b


def resign(g: Genesis, keys: KeyPair, tx: Tx, body: Any) -> bytes:
    return encode(sign_tx(keys, genesis_hash(g), body, tx.expires_ms))


def variants(g: Genesis, block: Block) -> list[tuple[str, Block]]:
    """Tampered copies of a block, each breaking one rule."""
    txs = list(block.txs)
    decoded = [decode_tx(t) for t in txs]
    out: list[tuple[str, Block]] = []
    kinds = {type(t.body) for t in decoded}
    if block.height == 1:
        out.append(("header: wrong previous hash", rebuild(block, txs, prev_hash=b"\x01" * 32)))
        out.append(("header: proposer is not a validator", rebuild(block, txs, proposer=ADMIN.ed25519_public)))
    if OpenElection in kinds:
        t = decoded[0]
        out.append(("open signed by the registrar", rebuild(block, [resign(g, REGISTRAR, t, t.body)])))
    if CastBallot in kinds:
        i = next(k for k, t in enumerate(decoded) if isinstance(t.body, CastBallot))
        t = decoded[i]
        bad_sig = encode(dataclasses.replace(t, signature=t.signature[:-1] + bytes([t.signature[-1] ^ 1])))
        out.append(("ballot with a flipped signature byte", rebuild(block, txs[:i] + [bad_sig] + txs[i + 1 :])))
        stranger = KeyPair.from_seed(b"\x99" * 32)
        out.append(("ballot from an unregistered key", rebuild(block, [resign(g, stranger, t, t.body)])))
        other = next(k for k in (voter_key(j) for j in range(3)) if k.ed25519_public != t.signer)
        out.append(("ballot copied to another voter", rebuild(block, [resign(g, other, t, t.body)])))
        out.append(("the same ballot transaction twice", rebuild(block, [txs[i], txs[i]])))
        out.append(("ballots after their expiry", rebuild(block, txs, time_ms=t.expires_ms + 1)))
        out.append(("header: wrong state root", rebuild(block, txs, state_root=b"\x00" * 32)))
        hdr = dataclasses.replace(block.header, tx_count=len(txs) - 1)
        out.append(("header: transaction root of fewer transactions", Block(hdr, block.txs)))
    if PostDecryptionShare in kinds:
        t = decoded[0]
        assert isinstance(t.body, PostDecryptionShare)
        s = t.body.share
        row = s.shares[0]
        bad = dataclasses.replace(s, shares=((row[1], row[0], *row[2:]), *s.shares[1:]))
        signer = next(k for k in TRUSTEES if k.ed25519_public == t.signer)
        body = PostDecryptionShare(t.body.election_id, bad)
        out.append(("tampered decryption share", rebuild(block, [resign(g, signer, t, body)] + txs[1:])))
    if PublishResult in kinds:
        t = decoded[0]
        assert isinstance(t.body, PublishResult)
        r = t.body.result
        c = r.counts[0]
        wrong = dataclasses.replace(r, counts=((c[0] + 1, *c[1:]), *r.counts[1:]))
        out.append(("result with one count changed", rebuild(block, [resign(g, ADMIN, t, PublishResult(t.body.election_id, wrong))])))
    return out


def generate() -> dict[str, Any]:
    from harness.scenario import run_election

    g = make_genesis()
    chain = LocalChain(g, VALIDATORS)
    run_election(chain, ROLES, voters=3, revoters=1, name=NAME, seed=11, deterministic=True)
    base = MemoryBase()
    st = State.initial(g, base)
    cases: list[dict[str, Any]] = []
    for block in chain.blocks:
        before = snapshot(st, base)
        for why, bad in variants(g, block):
            try:
                apply_block(st, bad)
            except BlockError as e:
                expect = {"error": str(e.code), "tx_index": e.tx_index}
            else:
                raise AssertionError(f"variant {why!r} of block {block.height} applied")
            cases.append({"name": f"block {block.height}: {why}", "before": before, "block": encode(bad).hex(), "expect": expect})
        new = apply_block(st, block)
        cases.append(
            {
                "name": f"block {block.height}: " + ", ".join(sorted({decode_tx(t).kind for t in block.txs})),
                "before": before,
                "block": encode(block).hex(),
                "expect": {"state_root": new.root.hex()},
            }
        )
        st = base.commit(new)
    assert LtHash().root() == State.initial(g).root
    return {
        "description": "Ballotchain state-transition vectors: apply `block` to the state `before`; "
        "expect the state root after it, or the error code and transaction index. See README.md.",
        "genesis": encode(g).hex(),
        "cases": cases,
    }


def main() -> None:
    OUT.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
