"""Synced writes off the event loop (issue 16): ``node.disk_thread`` keeps their order,
lets the loop serve meanwhile and reports their failures; the consensus driver still
sends nothing a write stands behind before that write is on disk."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ballot_tx.errors import ErrorCode, StoreError, TxError
from ballot_tx.keys import load_key_file
from consensus.events import ClientWork, Start, TimerFired
from consensus.messages import ViewChange
from consensus.replica import VIEW_TIMER
from genesis.document import genesis_hash
from node import localnet as ln
from node.config import load_config
from node.disk_thread import DiskThread
from node.driver import ConsensusDriver
from node.homes import make_network
from node.ledger import Ledger
from node.process import load_genesis
from node.store import Store
from node.supervisor import Supervisor


class Ticker:
    """Counts 10 ms ticks of the event loop while its block runs: a frozen loop ticks not."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def test_writes_keep_their_order_and_the_loop_runs_meanwhile() -> None:
    done: list[int] = []
    threads: set[str] = set()

    def write(i: int, seconds: float) -> None:
        time.sleep(seconds)  # the fsync stand-in: the GIL is released, as plyvel does
        threads.add(threading.current_thread().name)
        done.append(i)

    async def main() -> int:
        disk = DiskThread()
        async with Ticker() as ticker:
            # asked for from three tasks at once, slowest first: they land in the order asked
            await asyncio.gather(*(disk.write(partial(write, i, s))
                                   for i, s in enumerate((0.2, 0.05, 0.0))))
        disk.close()
        return ticker.ticks

    ticks = asyncio.run(main())
    assert done == [0, 1, 2]
    assert threads and threading.main_thread().name not in threads
    assert ticks >= 10  # the loop ran while the disk was busy for 0.25 s


def test_a_failed_write_is_raised_with_its_code_to_whoever_awaited_it() -> None:
    def failing() -> None:
        raise StoreError(ErrorCode.STORE_DISK_FULL, "No space left on device")

    async def main() -> None:
        disk = DiskThread()
        try:
            with pytest.raises(StoreError) as e:
                await disk.write(failing)
            assert e.value.code == ErrorCode.STORE_DISK_FULL
            await disk.write(lambda: None)  # the thread survives the failure
        finally:
            disk.close()

    asyncio.run(main())


def test_close_waits_for_a_write_whose_caller_was_cancelled() -> None:
    """A node stopping while a commit syncs: the store closes only after the write."""
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        finished.set()

    async def main() -> None:
        disk = DiskThread()
        task = asyncio.create_task(disk.write(slow))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not finished.is_set()
        disk.close()
        assert finished.is_set()

    asyncio.run(main())


class _Link:
    def __init__(self, sent: list[tuple[float, bytes]]) -> None:
        self.sent = sent
        self.url = "http://127.0.0.1:1"

    def send(self, topic: str, payload: bytes) -> None:
        self.sent.append((time.monotonic(), payload))


def test_the_driver_sends_a_signed_message_only_after_its_record_is_on_disk(tmp_path: Path) -> None:
    """Validator 1's view timer fires: it signs a VIEW-CHANGE (Persist, then Send). The
    synced write (slowed to 0.3 s) runs on the disk thread while the loop keeps ticking,
    and the VIEW-CHANGE leaves only after the write returned."""
    make_network(tmp_path / "net", "disk-test", 4, 0, ln.free_base_port(4))
    cfg = load_config(tmp_path / "net" / "validator-1")
    keys = load_key_file(cfg.key_file.read_text())
    genesis = load_genesis(cfg.genesis_file)
    store = Store(cfg.data_dir, genesis)
    sent: list[tuple[float, bytes]] = []
    writes: list[tuple[str, float]] = []
    real_put_meta = store.put_meta

    def slow_put_meta(name: bytes, value: bytes, sync: bool = True) -> None:
        time.sleep(0.3)
        real_put_meta(name, value, sync)
        writes.append((threading.current_thread().name, time.monotonic()))

    store.put_meta = slow_put_meta  # type: ignore[method-assign]
    try:
        ledger = Ledger(store, genesis, genesis_hash(genesis))
        fake: Any = SimpleNamespace(
            validator_links={i: _Link(sent) for i in (0, 2, 3)},
            changed=asyncio.Event(), phase_change_due=lambda: False,
            stepped=lambda *a: None,
        )

        async def main() -> int:
            fake.changed = asyncio.Event()
            driver = ConsensusDriver(
                genesis, 1, ledger.chain_id, keys, store, ledger, mempool=[],  # type: ignore[arg-type]
                producer=fake, network=fake, verification=fake, ops=fake, supervisor=Supervisor(),
                on_commit=lambda b: None)
            async with Ticker() as ticker:
                await driver._feed(Start())
                await driver._feed(ClientWork(True))
                await driver._feed(TimerFired(VIEW_TIMER, driver.replica.timers.view_token))
            driver._disk.close()
            return ticker.ticks

        ticks = asyncio.run(main())
    finally:
        store.close()
    from consensus.messages import decode_message
    view_changes = [(t, decode_message(p)) for t, p in sent]
    view_changes = [(t, m) for t, m in view_changes if isinstance(m.body, ViewChange)]
    assert writes and all(name.startswith("disk") for name, _ in writes)
    assert len(view_changes) == 3  # to each other validator
    assert min(t for t, _ in view_changes) >= writes[-1][1]
    assert ticks >= 20  # the loop was not frozen for the 0.3 s write


def test_while_a_block_is_written_the_tip_state_is_still_the_one_before_it(tmp_path: Path) -> None:
    """Between the disk thread's write of block h and the moment the ledger moves its tip,
    the loop keeps checking transactions (admission, the pool's sweep). They must see the
    state before h whole, not h's records through the database: else the pool's sweep
    dropped h's own ballots as TX_DUPLICATE and their clients were told so (seen in
    bench_network as "400 TX_DUPLICATE x16") although the ballots committed."""
    from ballot_tx.codec import decode
    from consensus.certificate import CommitCertificate
    from harness.localchain import certificate_maker
    from tests.ballot_tx.state.helpers import VALIDATORS
    from tests.node.ledger_env import good, open_election

    fixture = open_election(tmp_path / "db")
    env = next(fixture)
    try:
        ledger, voter = env.ledger, env.e.voters[0]
        raw = good(env, 0)
        ledger.check_tx(raw)
        tip = ledger.state
        block, dropped = ledger.build(tip.height + 1, tip.block_hash, VALIDATORS[0].ed25519_public, [raw], 10)
        assert dropped == [] and len(block.txs) == 1
        make_cert = certificate_maker()
        assert make_cert is not None
        cert = decode(CommitCertificate, make_cert(env.w.genesis, VALIDATORS, block.height, block.hash))
        decoded, staged = ledger.stage_commit(block, cert)
        ledger.store.write_commit(staged)  # on disk; the ledger has not moved its tip yet
        assert ledger.height == tip.height
        ledger.check_tx(raw)  # still admissible against the tip before the block
        before = ledger.state.voter(env.e.eid, voter.ed25519_public)
        assert before is not None and before.ballots == 0
        ledger.finish_commit(decoded, staged)
        with pytest.raises(TxError) as e:
            ledger.check_tx(raw)
        assert e.value.code == ErrorCode.TX_DUPLICATE
        after = ledger.state.voter(env.e.eid, voter.ed25519_public)
        assert after is not None and after.ballots == 1
    finally:
        fixture.close()
