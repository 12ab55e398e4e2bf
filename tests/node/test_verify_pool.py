"""The verification pool: verdicts from worker processes equal the inline ones, are used
only under the key of the exact inputs checked, and a broken worker only costs speed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballot_tx.block import make_block, tx_hash
from ballot_tx.checks import MemoChecker, ballot_key, signature_key
from ballot_tx.codec import encode
from ballot_tx.crypto.ballot import encrypt_ballot
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.tx import SpoilBallot
from node.verify_pool import VerifyPool
from node.verify_work import Refusals, Verdicts, verify_txs
from tests.node.ledger_env import Env, bad_proof, good, open_election


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_election(tmp_path_factory.mktemp("vp") / "data")


def bad_signature(env: Env, i: int) -> bytes:
    tx = env.w.cast(env.e, env.e.voters[i])
    return encode(dataclasses.replace(tx, signature=bytes(64)))


def inline(env: Env, raw: bytes) -> tuple[ErrorCode | None, str, set[bytes]]:
    """What the inline admission check says (code, message) and the verdict keys it records."""
    memo = MemoChecker()
    try:
        env.ledger.check_tx(raw, memo)
    except BallotchainError as e:
        return e.code, e.message, set(memo._seen)
    return None, "", set(memo._seen)


def via_pool(env: Env, pool: VerifyPool, raw: bytes) -> tuple[ErrorCode | None, str, set[bytes]]:
    """The node's pooled admission: the worker's verdicts, then the stateful check."""
    v = asyncio.run(pool.verify(env.ledger.open_elections(), [raw]))
    assert v is not None
    memo = MemoChecker()
    refused = v.absorb(memo)
    keys = set(memo._seen)
    try:
        env.ledger.check_tx(raw, Refusals(memo, refused))
    except BallotchainError as e:
        return e.code, e.message, keys
    return None, "", keys


@pytest.fixture(scope="module")
def pool(env: Env) -> Iterator[VerifyPool]:
    p = VerifyPool(2, env.w.cid, MemoChecker())
    asyncio.run(p.start())
    assert p.ready
    yield p
    p.close()


async def until_ready(p: VerifyPool) -> None:
    for _ in range(300):
        if p._is_ready():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the workers did not start")


def test_worker_verdicts_equal_inline(env: Env, pool: VerifyPool) -> None:
    for raw in (good(env, 0), bad_proof(env, 1), bad_signature(env, 2)):
        code, msg, inline_keys = inline(env, raw)
        pcode, pmsg, pool_keys = via_pool(env, pool, raw)
        assert (pcode, pmsg) == (code, msg)
        assert pool_keys == inline_keys  # the same verdicts, under the same keys
    assert inline(env, good(env, 0))[0] is None


def test_bad_ballot_refused_with_its_code_through_the_pool(env: Env, pool: VerifyPool) -> None:
    raw = bad_proof(env, 3)
    code, msg, keys = via_pool(env, pool, raw)
    assert code == ErrorCode.TX_BAD_BALLOT and msg
    st = env.ledger.state.election(env.e.eid)
    assert st is not None and st.joint_key is not None
    h = tx_hash(raw)
    assert signature_key(h, env.w.cid) in keys and ballot_key(h, st.joint_key) not in keys
    assert via_pool(env, pool, bad_signature(env, 3))[0] == ErrorCode.TX_BAD_SIGNATURE


def test_spoiled_ballot_checked_on_a_worker(env: Env, pool: VerifyPool) -> None:
    b, secrets = encrypt_ballot(
        env.e.m, env.e.key, env.e.voters[4].ed25519_public, ((1, 0, 0),)
    )
    raw = encode(env.w.tx(env.e.voters[4], SpoilBallot(env.e.eid, b, secrets)))
    assert via_pool(env, pool, raw)[:2] == inline(env, raw)[:2] == (None, "")
    assert ballot_key(tx_hash(raw), env.e.key) in via_pool(env, pool, raw)[2]


def test_concurrent_requests_share_worker_calls_and_keep_their_verdicts(env: Env, pool: VerifyPool) -> None:
    """Requests made together are coalesced into one call per worker (each call is a
    pickle and a round trip); each request still gets its own transaction's verdicts, a
    refusal applies only to its own transaction, and the codes match the inline check."""
    raws = [good(env, 0), bad_proof(env, 1), good(env, 2), bad_signature(env, 3)] * 3
    calls: list[int] = []
    run = pool._run

    async def counting(elections: object, workers: object, parts: list[tuple[bytes, ...]]) -> object:
        calls.append(len(parts))
        return await run(elections, workers, parts)  # type: ignore[arg-type]

    pool._run = counting  # type: ignore[method-assign]
    try:
        async def together() -> list[object]:
            el = env.ledger.open_elections()
            return list(await asyncio.gather(*(pool.verify(el, [r]) for r in raws)))

        results = asyncio.run(together())
    finally:
        del pool._run
    assert sum(calls) <= 2 * pool.workers < len(raws)  # not one call per request
    for raw, v in zip(raws, results, strict=True):
        assert v is not None
        memo = MemoChecker()
        refused = v.absorb(memo)  # type: ignore[attr-defined]
        try:
            env.ledger.check_tx(raw, Refusals(memo, refused))
            code = None
        except BallotchainError as e:
            code = e.code
        assert code == inline(env, raw)[0]


def test_a_transaction_on_its_way_to_a_worker_is_not_sent_twice(env: Env, pool: VerifyPool) -> None:
    """A forwarded ballot still being verified when the proposal carrying it arrives: the
    proposal's request waits for that verdict instead of verifying it again; under another
    election snapshot it is verified again (the verdict would be under other keys)."""
    a, b = good(env, 4), good(env, 5)
    sent: list[bytes] = []
    run = pool._run

    async def counting(elections: object, workers: object, parts: list[tuple[bytes, ...]]) -> object:
        sent.extend(r for p in parts for r in p)
        return await run(elections, workers, parts)  # type: ignore[arg-type]

    pool._run = counting  # type: ignore[method-assign]
    try:
        async def overlapping(other: bool) -> list[object]:
            el = env.ledger.open_elections()
            first = asyncio.ensure_future(pool.verify(el, [a]))
            await asyncio.sleep(0)  # the first request is queued or running
            el2 = {k: (m, bytes(32)) for k, (m, _) in el.items()} if other else el
            second = asyncio.ensure_future(pool.verify(el2, [a, b]))
            return [await first, await second]

        v1, v2 = asyncio.run(overlapping(False))
        assert sorted(sent) == sorted([a, b])
        st = env.ledger.state.election(env.e.eid)
        assert st is not None and st.joint_key is not None
        for raw, v in ((a, v1), (a, v2), (b, v2)):
            assert ballot_key(tx_hash(raw), st.joint_key) in v.ok  # type: ignore[attr-defined]
        sent.clear()
        asyncio.run(overlapping(True))
        assert sorted(sent) == sorted([a, a, b])
    finally:
        del pool._run
    assert pool._pending == {}


def test_a_refusal_applies_only_to_its_exact_key(env: Env) -> None:
    """A worker's refusal is raised where the rules reach that check; under another joint
    key (another election state) it does not apply and the check runs."""
    raw = good(env, 5)
    h = tx_hash(raw)
    memo = MemoChecker()
    with pytest.raises(BallotchainError) as e:
        refused = {ballot_key(h, env.e.key): (str(ErrorCode.TX_BAD_BALLOT), "no")}
        env.ledger.check_tx(raw, Refusals(memo, refused))
    assert e.value.code == ErrorCode.TX_BAD_BALLOT
    elsewhere = {ballot_key(h, bytes(32)): (str(ErrorCode.TX_BAD_BALLOT), "no")}
    env.ledger.check_tx(raw, Refusals(memo, elsewhere))
    assert ballot_key(h, env.e.key) in memo


def test_stale_election_snapshot_gives_no_usable_verdict(env: Env) -> None:
    """A worker told another joint key returns a verdict under that key: the ledger's check
    under the real key does not find it (issue 11's committed-state rule)."""
    raw = good(env, 6)
    h = tx_hash(raw)
    (mbytes, key) = env.ledger.open_elections()[env.e.eid]
    other = env.w.chain.state.election(env.e.eid)
    assert other is not None and other.joint_key == key
    stale = env.w.genesis.validators[0].ed25519_public  # a valid point, not the joint key
    v = verify_txs(env.w.cid, {env.e.eid: (mbytes, stale)}, [raw])
    assert ballot_key(h, key) not in v.ok and signature_key(h, env.w.cid) in v.ok


def test_pool_of_size_zero_is_inline(env: Env) -> None:
    p = VerifyPool(0, env.w.cid, MemoChecker())
    assert asyncio.run(p.verify(env.ledger.open_elections(), [good(env, 0)])) is None
    assert p.pids() == []


def test_a_killed_worker_costs_one_inline_check_then_the_pool_is_replaced(env: Env) -> None:
    p = VerifyPool(1, env.w.cid, MemoChecker())
    try:
        raw = good(env, 7)

        async def run() -> tuple[object, object, object, object]:
            assert await p.verify(env.ledger.open_elections(), [raw]) is None  # not started yet
            await p.start()
            first = await p.verify(env.ledger.open_elections(), [raw])
            for pid in p.pids():
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.3)
            broken = await p.verify(env.ledger.open_elections(), [raw])
            starting = await p.verify(env.ledger.open_elections(), [raw])
            await until_ready(p)
            again = await p.verify(env.ledger.open_elections(), [raw])
            return first, broken, starting, again

        first, broken, starting, again = asyncio.run(run())
        assert isinstance(first, Verdicts) and isinstance(again, Verdicts)
        # the same verdicts from the new worker (decoded forms: the same points; their bytes
        # may differ in the padding of libdecaf's structures, which its arithmetic never reads)
        assert (again.ok, again.refused) == (first.ok, first.refused) and first.ok
        assert [pts for pts, _ in again.decoded] == [pts for pts, _ in first.decoded]
        assert broken is None and p.failures == 1
        assert starting is None  # while the new workers start: inline, not queued behind them
        # the node's fallback: the stateful check verifies inline and admits it
        assert inline(env, raw)[0] is None
    finally:
        p.close()


def test_proposal_preverified_on_workers_is_recalled_by_validate(env: Env, pool: VerifyPool) -> None:
    """A block of ballots this node never admitted: its proofs are checked on the workers,
    and Ledger.validate then applies it with every verdict recalled."""
    st = env.ledger.state
    raws = [good(env, i) for i in range(3)]
    t = env.ledger.next_time_ms()
    proposer = env.w.genesis.validators[0].ed25519_public
    block = make_block(st.height + 1, st.block_hash, t, proposer, st.root, raws)
    blob = encode(block)
    todo = env.ledger.unverified_txs([blob])
    assert todo == raws
    v = asyncio.run(pool.verify(env.ledger.open_elections(), todo))
    assert v is not None and not v.refused
    calls = []

    class Counting(MemoChecker):
        def ballot(self, *a: object) -> None:  # type: ignore[override]
            calls.append(self._known(ballot_key(a[0], a[2])))  # type: ignore[arg-type]
            super().ballot(*a)  # type: ignore[arg-type]

    c = Counting()
    c._seen = env.ledger.checker._seen
    env.ledger.checker = c
    v.absorb(env.ledger.checker)
    assert env.ledger.unverified_txs([blob]) == []
    assert env.ledger.validate(block.height, st.block_hash, blob)
    assert calls == [True, True, True]


def test_worker_processes_exit_when_the_node_is_killed(tmp_path: Path) -> None:
    """A worker whose node died (SIGKILL: no shutdown) leaves by itself."""
    import subprocess
    import sys
    import time

    code = (
        "import asyncio, sys\n"
        "from ballot_tx.checks import MemoChecker\n"
        "from node.verify_pool import VerifyPool\n"
        "p = VerifyPool(1, bytes(32), MemoChecker())\n"
        "asyncio.run(p.start())\n"
        "assert p.ready\n"
        "print(p.pids()[0], flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        os.kill(worker, 0)
        proc.kill()
        proc.wait()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError("the worker outlived its node")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_pool_that_cannot_restart_answers_inline_then_retries(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that cannot be started again (no processes or files left) must not leave
    a request waiting: it is answered None (inline) at once, and the pool tries again
    after ``RESTART_RETRY_S``."""
    import node.verify_pool as vp

    p = VerifyPool(1, env.w.cid, MemoChecker())
    raw = good(env, 6)
    real = vp.PipeWorker

    class NoProcesses:
        def __init__(self) -> None:
            raise OSError(24, "Too many open files")

    try:
        async def run() -> tuple[object, object, object, list[int]]:
            await p.start()
            first = await p.verify(env.ledger.open_elections(), [raw])
            monkeypatch.setattr(vp, "PipeWorker", NoProcesses)
            for pid in p.pids():
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.3)
            # the call that finds the worker dead restarts, the restart fails: inline
            broken = await asyncio.wait_for(p.verify(env.ledger.open_elections(), [raw]), 10)
            assert p.pids() == []
            still = await asyncio.wait_for(p.verify(env.ledger.open_elections(), [raw]), 10)
            monkeypatch.setattr(vp, "PipeWorker", real)
            monkeypatch.setattr(vp, "RESTART_RETRY_S", 0.0)
            p._retry_at = 0.0
            assert await p.verify(env.ledger.open_elections(), [raw]) is None  # starting again
            await until_ready(p)
            return first, broken, still, p.pids()

        first, broken, still, pids = asyncio.run(run())
        assert first is not None and broken is None and still is None and len(pids) == 1
    finally:
        p.close()


def test_verified_ballots_come_with_their_points_decoded_and_execute_the_same(env: Env) -> None:
    """A worker hands the loop the decoded forms of the points of each ballot it verified
    (the running tally then copies them instead of decoding them: about 0.05 of the 0.12
    ms of executing a verified 5-option ballot), and of no other transaction. A block executes to the same state
    root with them as without."""
    from ballot_tx.crypto import point_sums
    from ballot_tx.state.execute import apply_block
    from ballot_tx.tx import CastBallot, decode_tx

    raws = [good(env, 5), good(env, 6), bad_proof(env, 1), bad_signature(env, 2)]
    v = verify_txs(env.w.cid, env.ledger.open_elections(), raws)
    if point_sums._decaf is None:
        assert v.decoded == ()  # (no libdecaf: nothing decoded to hand over)
        return
    want = []
    for raw in raws[:2]:
        body = decode_tx(raw).body
        assert isinstance(body, CastBallot)
        want.append(tuple(p for ec in body.ballot.contests for ct in ec.ciphertexts for p in (ct.alpha, ct.beta)))
    assert [pts for pts, _ in v.decoded] == want and len(v.refused) == 2
    st = env.ledger.state
    block = make_block(st.height + 1, st.block_hash, env.ledger.next_time_ms(),
                       env.w.genesis.validators[0].ed25519_public, st.root, raws[:2])
    point_sums.forget_known()
    try:
        decoding = apply_block(st, block).root
        v.absorb(MemoChecker())
        assert point_sums.known_points() == {p for pts in want for p in pts}
        assert apply_block(st, block).root == decoding
    finally:
        point_sums.forget_known()


def test_a_pool_records_each_batch_once_in_its_checker(env: Env) -> None:
    """Coalesced requests all get the whole batch's verdicts; a pool given the ledger's
    checker records them there once per worker call, not once per request (that was k^2
    for a batch of k), and each request still reads its refusals from its answer."""
    added: list[bytes] = []

    class Counting(MemoChecker):
        def add(self, key: bytes) -> None:
            added.append(key)
            super().add(key)

    memo = Counting()
    p = VerifyPool(1, env.w.cid, memo)
    raws = [good(env, 0), bad_proof(env, 1), good(env, 2), bad_signature(env, 3)] * 3

    async def run() -> list[Verdicts | None]:
        await p.start()
        el = env.ledger.open_elections()
        return list(await asyncio.gather(*(p.verify(el, [r]) for r in raws)))

    try:
        results = asyncio.run(run())
    finally:
        p.close()
    assert all(v is not None for v in results)
    assert len(added) == len(set(added))  # once each, however many requests shared it
    want = {signature_key(tx_hash(r), env.w.cid) for r in raws if r != raws[3]}
    want |= {ballot_key(tx_hash(r), env.e.key) for r in (raws[0], raws[2])}
    assert set(added) == want
    for raw, v in zip(raws, results, strict=True):
        assert v is not None
        refused = v.refusals()
        if raw in (raws[1], raws[3]):  # its own refusal is among the batch's
            with pytest.raises(BallotchainError):
                env.ledger.check_tx(raw, Refusals(memo, refused))
        else:
            env.ledger.check_tx(raw, Refusals(memo, refused))
