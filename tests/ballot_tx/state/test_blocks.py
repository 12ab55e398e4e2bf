"""Block-level rules, verify-once cache, proposer selection, and the store's atomic commit."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ballot_tx.block import Block, make_block
from ballot_tx.checks import MemoChecker, ballot_key
from ballot_tx.codec import encode
from ballot_tx.errors import BlockError, ErrorCode, TxError
from ballot_tx.state.execute import apply_block, check_tx, select_txs
from ballot_tx.state.snapshot import State
from ballot_tx.tx import CastBallot
from node.store import Store
from tests.ballot_tx.state.helpers import ADMIN, VALIDATORS, make_genesis
from tests.ballot_tx.state.world import Election, World, build_world


@pytest.fixture(scope="module")
def world() -> tuple[World, dict[str, Election]]:
    return build_world()


def next_block(st: State, **kw: object) -> Block:
    args: dict[str, object] = {
        "height": st.height + 1,
        "prev_hash": st.block_hash,
        "time_ms": st.time_ms + 1000,
        "proposer": VALIDATORS[0].ed25519_public,
        "state_root": st.root,
        "txs": [],
    }
    args.update(kw)
    return make_block(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change, code",
    [
        ({"height": 99}, ErrorCode.BLOCK_BAD_HEIGHT),
        ({"prev_hash": b"\x07" * 32}, ErrorCode.BLOCK_BAD_PREV_HASH),
        ({"time_ms": 0}, ErrorCode.BLOCK_BAD_TIME),
        ({"proposer": ADMIN.ed25519_public}, ErrorCode.BLOCK_BAD_PROPOSER),
        ({"state_root": b"\x00" * 32}, ErrorCode.BLOCK_BAD_STATE_ROOT),
    ],
)
def test_header_rules(world: tuple[World, dict[str, Election]], change: dict[str, object], code: ErrorCode) -> None:
    st = world[0].chain.state
    apply_block(st, next_block(st))  # the unchanged block is fine
    with pytest.raises(BlockError) as e:
        apply_block(st, next_block(st, **change))
    assert e.value.code == code and e.value.tx_index is None


def test_same_time_as_previous_block_is_refused(world: tuple[World, dict[str, Election]]) -> None:
    st = world[0].chain.state
    with pytest.raises(BlockError) as e:
        apply_block(st, next_block(st, time_ms=st.time_ms))
    assert e.value.code == ErrorCode.BLOCK_BAD_TIME


def test_tx_root_and_count(world: tuple[World, dict[str, Election]]) -> None:
    w, es = world
    st = w.chain.state
    good = encode(w.cast(es["open"], es["open"].voters[2]))
    b = next_block(st, txs=[good])
    with pytest.raises(BlockError) as e:
        apply_block(st, Block(b.header, ()))
    assert e.value.code == ErrorCode.BLOCK_BAD_TX_ROOT
    g = dataclasses.replace(w.genesis, params=dataclasses.replace(w.genesis.params, max_block_txs=1))
    st1 = State.initial(g)
    with pytest.raises(BlockError) as e:
        apply_block(st1, next_block(st1, time_ms=g.genesis_time_ms, txs=[good, good]))
    assert e.value.code == ErrorCode.BLOCK_TOO_MANY_TXS


def test_apply_is_pure_and_deterministic(world: tuple[World, dict[str, Election]]) -> None:
    w, es = world
    st = w.chain.state
    root, writes = st.root, dict(st.writes)
    txs = [encode(w.cast(es["open"], v)) for v in es["open"].voters]
    b = next_block(st, txs=txs)
    a1 = apply_block(st, b)
    a2 = apply_block(st, b, MemoChecker())
    assert a1.root == a2.root != root
    assert a1.writes == a2.writes
    assert st.root == root and st.writes == writes  # the parent is untouched
    # the running tally changed and the voters' records point at their ballots
    assert a1.tally(es["open"].eid) != st.tally(es["open"].eid)
    v = a1.voter(es["open"].eid, es["open"].voters[0].ed25519_public)
    assert v is not None and v.ballots == 1


def test_verify_once_cache_skips_proofs(world: tuple[World, dict[str, Election]], monkeypatch: pytest.MonkeyPatch) -> None:
    w, es = world
    st = w.chain.state
    e = es["open"]
    raw = encode(w.cast(e, e.voters[1]))
    cache = MemoChecker()
    h = check_tx(st, raw, st.time_ms + 1000, cache)
    status = st.election(e.eid)
    assert status is not None and status.joint_key is not None
    assert ballot_key(h, status.joint_key) in cache
    import ballot_tx.crypto.ballot as bc

    def boom(*a: object) -> None:
        raise AssertionError("proof re-verified despite the cache")

    monkeypatch.setattr(bc, "verify_ballot", boom)
    monkeypatch.setattr("ballot_tx.tx.verify", lambda *a: (_ for _ in ()).throw(AssertionError("sig")))
    new = apply_block(st, next_block(st, txs=[raw]), cache)
    assert new.root != st.root
    with pytest.raises(AssertionError):
        apply_block(st, next_block(st, txs=[raw]), MemoChecker())


def test_cache_is_bounded() -> None:
    c = MemoChecker(max_entries=3)
    for i in range(5):
        c.add(bytes([i]) * 32)
    assert len(c) == 3 and bytes([0]) * 32 not in c and bytes([4]) * 32 in c


def test_select_txs_drops_conflicts(world: tuple[World, dict[str, Election]]) -> None:
    w, es = world
    st = w.chain.state
    e = es["codes"]
    first = encode(w.cast(e, e.voters[1]))
    second = encode(w.tx(e.voters[1], CastBallot(e.eid, w.ballot(e, e.voters[1], ((0, 0, 1),)))))
    other = encode(w.cast(e, e.voters[2]))
    t = st.time_ms + 1000
    for raw in (first, second, other):
        check_tx(st, raw, t)  # each is fine alone
    kept, rejected = select_txs(st, [first, second, b"junk", other], t)
    assert kept == [first, other]
    assert [(i, err.code) for i, err in rejected] == [(1, ErrorCode.TX_CODE_USED), (2, ErrorCode.TX_MALFORMED)]
    new = apply_block(st, next_block(st, time_ms=t, txs=kept))
    status = new.election(e.eid)
    assert status is not None and status.voters_voted == 3
    with pytest.raises(BlockError) as be:
        apply_block(st, next_block(st, time_ms=t, txs=[first, second]))
    assert be.value.code == ErrorCode.TX_CODE_USED and be.value.tx_index == 1
    assert isinstance(rejected[0][1], TxError)


CRASH = textwrap.dedent(
    """
    import os, sys
    from harness.localchain import LocalChain
    from node.store import Store
    from harness.scenario import run_election
    from tests.ballot_tx.state.helpers import ROLES, VALIDATORS, make_genesis
    import plyvel
    path, mode = sys.argv[1], sys.argv[2]
    g = make_genesis()
    store = Store(path, g)
    chain = LocalChain(g, VALIDATORS, [store])
    run_election(chain, ROLES, voters=3, revoters=0)
    print(store.height, store.tip.state_root.hex(), flush=True)
    if mode == "during":
        # die after the whole batch was assembled but before LevelDB wrote it
        class Proxy:
            def __init__(self, db):
                self._db = db
            def __getattr__(self, name):
                return getattr(self._db, name)
            def write_batch(self, **kw):
                wb = self._db.write_batch(**kw)
                class Dying:
                    def __enter__(s):
                        return wb
                    def __exit__(s, *a):
                        os._exit(9)
                return Dying()
        store.db = Proxy(store.db)
    from harness.scenario import run_election as again
    again(chain, ROLES, voters=1, revoters=0, name="second")
    os._exit(9)  # after: the committed blocks must survive without a clean close
    """
)


@pytest.mark.parametrize("mode", ["during", "after"])
def test_crash_leaves_old_or_new_state(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[3]))
    p = subprocess.run(
        [sys.executable, "-c", CRASH, str(path), mode], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode == 9, p.stderr
    height, root = p.stdout.split()
    with Store(path, make_genesis()) as s:
        if mode == "during":
            assert s.height == int(height) and s.tip.state_root.hex() == root
        else:
            assert s.height > int(height)  # the second election's blocks survived the kill
        final = s.height
        assert s.state().root == s.tip.state_root
    from node.audit import audit_data_dir

    assert audit_data_dir(path).blocks == final


def test_block_cost_does_not_grow_with_the_state(world: tuple[World, dict[str, Election]]) -> None:
    """O(changes): a block of k ballots reads and hashes O(k) records, however many voters
    the state holds (200,000 unrelated voter records are added under the same state)."""
    from ballot_tx import lthash
    from ballot_tx.state.snapshot import MemoryBase

    w, es = world
    st = w.chain.state
    e = es["open"]
    raws = [encode(w.cast(e, v)) for v in e.voters]
    block = next_block(st, txs=raws)

    def measure(extra: int) -> tuple[int, int]:
        records: dict[bytes, bytes] = {}
        s: State | None = st
        layers = []
        while s is not None:
            layers.append(s)
            s = s.parent
        records.update(st.base.records)  # type: ignore[attr-defined]
        for layer in reversed(layers):
            for k, v in layer.writes.items():
                if v is None:
                    records.pop(k, None)
                else:
                    records[k] = v
        for i in range(extra):  # other voters of the same election
            records[b"V" + e.eid + i.to_bytes(32, "big")] = b"\x94\xc2\xc0\x00\xc0"
        reads = [0]

        class Counting(MemoryBase):
            def get(self, key: bytes) -> bytes | None:
                reads[0] += 1
                return super().get(key)

        base = Counting(records, st.height)
        big = State(st.chain, base, st.lthash, st.height, st.block_hash, st.time_ms)
        digests = [0]
        real = lthash.record_digest

        def counting_digest(k: bytes, v: bytes) -> int:
            digests[0] += 1
            return real(k, v)

        lthash.record_digest = counting_digest  # type: ignore[assignment]
        try:
            apply_block(big, block)
        finally:
            lthash.record_digest = real
        return reads[0], digests[0]

    small = measure(0)
    large = measure(200_000)
    assert small == large
    assert small[1] >= 2 * len(raws)  # each ballot changes its voter record and a seen hash
    assert small[0] <= 12 * len(raws) + 20 and small[1] <= 4 * len(raws) + 10


def _outcome(run: object) -> str:
    try:
        run()  # type: ignore[operator]
    except (BlockError, TxError) as e:
        return str(e.code)
    return "ok"


def test_admission_check_and_block_agree_on_every_cast(world: tuple[World, dict[str, Election]]) -> None:
    """``check_tx`` stops ``cast_ballot`` once its rules have passed (``check_only``): the
    effects are skipped, never a rule. A hostile voter's every kind of cast must get the
    same verdict, with the same code, from the admission check and from a block."""
    w, es = world
    st = w.chain.state
    lim, o = es["limits"], es["open"]
    other_key = dataclasses.replace(w.ballot(o, o.voters[1]), election_id=es["norevote"].eid)
    casts = {
        "valid": w.cast(o, o.voters[1]),
        "re-vote allowed": w.cast(lim, lim.voters[2], ((1, 0, 0),)),
        "re-vote refused": w.cast(es["norevote"], es["norevote"].voters[0]),
        "code used": w.cast(es["codes"], es["codes"].voters[0]),
        "too many ballots": w.cast(lim, lim.voters[0]),
        "spoiled ciphertexts": w.tx(lim.voters[1], CastBallot(lim.eid, lim.kept["s-copy"][0])),
        "not registered": w.cast(o, ADMIN),
        "not open yet": w.cast(es["future"], es["future"].voters[0]),
        "closed": w.cast(es["closed"], es["closed"].voters[2]),
        "ballot of another election": w.tx(o.voters[2], CastBallot(o.eid, other_key)),
        "proofs for another voter": w.tx(o.voters[2], CastBallot(o.eid, w.ballot(o, o.voters[0]))),
    }
    t = st.time_ms + 1000
    seen = {}
    for name, tx in casts.items():
        raw = encode(tx)
        admitted = _outcome(lambda raw=raw: check_tx(st, raw, t))
        in_block = _outcome(lambda raw=raw: apply_block(st, next_block(st, time_ms=t, txs=[raw])))
        assert admitted == in_block, (name, admitted, in_block)
        seen[name] = admitted
    assert seen["valid"] == seen["re-vote allowed"] == "ok"
    assert seen["re-vote refused"] == str(ErrorCode.TX_REVOTE_NOT_ALLOWED)
    assert seen["code used"] == str(ErrorCode.TX_CODE_USED)
    assert seen["too many ballots"] == str(ErrorCode.TX_TOO_MANY_BALLOTS)
    assert seen["spoiled ciphertexts"] == str(ErrorCode.TX_BALLOT_SPOILED)
    assert seen["not registered"] == str(ErrorCode.TX_NOT_ELIGIBLE)
    assert seen["proofs for another voter"] == str(ErrorCode.TX_BAD_BALLOT)
    assert len(set(seen.values())) >= 8, seen


def test_kept_record_decodes_are_keyed_by_type_and_bytes_and_never_keep_a_refusal() -> None:
    """``decode_record`` remembers decodes: a shortcut valid only because decoding is a
    pure function of (type, bytes). The same bytes read as another type are decoded
    afresh, and damaged bytes are refused every time, never remembered as a value."""
    from ballot_tx.errors import CodecError
    from ballot_tx.state.records import ElectionStatus, OpenElections, VoterRecord, decode_record

    voter = VoterRecord(single_use=False, card_tag=None, ballots=1, counted=b"\x01" * 32)
    data = encode(voter)
    first, again = decode_record(VoterRecord, data), decode_record(VoterRecord, data)
    assert first == voter and again is first
    with pytest.raises(CodecError):
        decode_record(ElectionStatus, data)  # another type: its own decode, its own refusal
    for _ in range(2):
        with pytest.raises(CodecError):
            decode_record(OpenElections, data[:-1])
    assert decode_record(VoterRecord, None) is None
