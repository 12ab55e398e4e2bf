"""Write tests/vectors/spec/rejections.json: every chain rejection code, as a block on one state.

    python tests/vectors/spec/generate_rejections.py     # rewrite it (on purpose only)

The state is the rejection tests' world (tests/ballot_tx/state/world.py: elections in every phase);
each transaction case of tests/ballot_tx/state/test_rejections.py becomes a block
``[valid registration, bad transaction]`` that must fail with the case's code at index 1,
and each header rule a block that must fail with its ``BLOCK_*`` code. Cases that run
blocks to set themselves up (a paper voter registered, voting, then cancelled) are made
first, so the one ``before`` state holds every setup. Ballots are
encrypted with fresh randomness, so a new run writes different (equally valid) bytes:
the file is checked case by case (tests/spec/test_spec_vectors.py), by the project and by
the independent verifier, not compared with a fresh run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from ballot_tx.block import Block, BlockHeader, make_block  # noqa: E402
from ballot_tx.codec import encode  # noqa: E402
from ballot_tx.errors import BlockError, ErrorCode  # noqa: E402
from ballot_tx.state.execute import apply_block  # noqa: E402
from ballot_tx.state.snapshot import State, iter_layers  # noqa: E402


def records_of(state: State) -> dict[bytes, bytes]:
    """Every record of an in-memory state (its base under its overlays)."""
    out = dict(state.base.records)  # type: ignore[attr-defined]
    for layer in reversed(list(iter_layers(state))):
        for k, v in layer.writes.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
    return out


def generate() -> dict[str, Any]:
    from tests.ballot_tx.state.helpers import ADMIN, VALIDATORS
    from tests.ballot_tx.state.test_rejections import CASES, filler
    from tests.ballot_tx.state.world import build_world

    w, es = build_world()
    # Cases whose setup runs blocks (a paper voter registers, votes and is cancelled) are made
    # first and their transactions kept, so that one `before` state holds every setup; the
    # other cases are made afterwards, against that state.
    made: dict[str, Any] = {}
    for name, (make, _) in CASES.items():
        height = w.chain.state.height
        bad = make(w, es)
        if w.chain.state.height != height:
            made[name] = bad
    st = w.chain.state
    t = w.chain.next_time()
    proposer = VALIDATORS[0].ed25519_public
    cases: list[dict[str, Any]] = []

    def case(name: str, block: Block, code: ErrorCode | None, index: int | None, compact: bool = False) -> None:
        try:
            after = apply_block(st, block)
        except BlockError as e:
            assert (e.code, e.tx_index) == (code, index), (name, e.code, e.message)
            expect: dict[str, Any] = {"error": str(e.code), "tx_index": e.tx_index}
        else:
            assert code is None, name
            expect = {"state_root": after.root.hex()}
        if compact:  # identical transactions of zero bytes, written once
            assert len(set(block.txs)) == 1 and set(block.txs[0]) == {0}
            cases.append({"name": name, "header": encode(block.header).hex(),
                          "zero_txs": {"count": len(block.txs), "bytes": len(block.txs[0])}, "expect": expect})
            return
        cases.append({"name": name, "block": encode(block).hex(), "expect": expect})

    good = filler(w, es)
    case("valid: one registration", make_block(st.height + 1, st.block_hash, t, proposer, st.root, [good]),
         None, None)
    end = es["open"].m.end_ms
    case("valid: an empty block at an election's end time closes it",
         make_block(st.height + 1, st.block_hash, end, proposer, st.root, []), None, None)
    for name, (make, code) in CASES.items():
        bad = made[name] if name in made else make(w, es)
        raw = bad if isinstance(bad, bytes) else encode(bad)
        block = make_block(st.height + 1, st.block_hash, t, proposer, st.root, [filler(w, es), raw])
        case(name, block, code, 1)

    base = make_block(st.height + 1, st.block_hash, t, proposer, st.root, [good])
    h = base.header

    def header(**kw: Any) -> Block:
        fields = {f: getattr(h, f) for f in BlockHeader.__dataclass_fields__}
        fields.update(kw)
        return Block(BlockHeader(**fields), base.txs)

    case("header: height skips one", header(height=h.height + 1), ErrorCode.BLOCK_BAD_HEIGHT, None)
    case("header: wrong previous hash", header(prev_hash=bytes(32)), ErrorCode.BLOCK_BAD_PREV_HASH, None)
    case("header: time not after the previous block", header(time_ms=st.time_ms), ErrorCode.BLOCK_BAD_TIME, None)
    case("header: proposer is not a validator", header(proposer=ADMIN.ed25519_public),
         ErrorCode.BLOCK_BAD_PROPOSER, None)
    many = [b""] * (w.genesis.params.max_block_txs + 1)
    case("header: one transaction more than max_block_txs",
         make_block(st.height + 1, st.block_hash, t, proposer, st.root, many), ErrorCode.BLOCK_TOO_MANY_TXS, None)
    big = [bytes(1 << 18)] * (w.genesis.params.max_block_bytes // (1 << 18) + 1)
    case("header: transactions total more than max_block_bytes",
         make_block(st.height + 1, st.block_hash, t, proposer, st.root, big), ErrorCode.BLOCK_TOO_LARGE, None,
         compact=True)
    case("header: wrong state root", header(state_root=bytes(32)), ErrorCode.BLOCK_BAD_STATE_ROOT, None)
    case("header: transaction count off by one", header(tx_count=h.tx_count + 1), ErrorCode.BLOCK_BAD_TX_ROOT, None)
    case("header: transaction root of no transactions",
         header(tx_root=make_block(1, bytes(32), 0, proposer, bytes(32), []).header.tx_root),
         ErrorCode.BLOCK_BAD_TX_ROOT, None)
    case("a transaction that is not a transaction",
         make_block(st.height + 1, st.block_hash, t, proposer, st.root, [good, b"\x93\x01\x02"]),
         ErrorCode.TX_MALFORMED, 1)

    return {
        "description": "Every chain rejection code (docs/spec/transactions.md, blocks.md): apply each "
                       "`block` to the state `before`; expect its state root, or the error code and "
                       "transaction index. Format as tests/vectors/chain/README.md.",
        "genesis": encode(w.genesis).hex(),
        "before": {"height": st.height, "block_hash": st.block_hash.hex(), "time_ms": st.time_ms,
                   "state_root": st.root.hex(),
                   "records": sorted([k.hex(), v.hex()] for k, v in records_of(st).items())},
        "cases": cases,
    }


if __name__ == "__main__":
    out = HERE / "rejections.json"
    out.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {out}")
