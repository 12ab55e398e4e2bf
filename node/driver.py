"""The consensus driver: carries the PBFT replica's actions out as I/O, in list order.

Consensus is a pure ``step(state, event) -> (state, actions)`` (``consensus.replica``);
this part turns peer messages, timers and the producer's blocks into events and
executes each action of ``consensus.events.Action`` with one exhaustive ``match`` (mypy
proves every action is handled):

* ``Persist``: a synced LevelDB write, done before the next action runs, so every
  ``Send`` of a signed message that follows it is on disk first (a validator
  killed at any moment restarts from that record and cannot sign a conflicting
  message).
* ``Send``: queued on the peer links (never blocks; bounded queues).
* ``SetTimer``/``CancelTimer``: ``loop.call_later``; expiry feeds ``TimerFired``.
* ``RequestProposal``: the producer builds a block; ``ProposalReady`` follows.
* ``CommitBlock``: one synced WriteBatch (block, certificate, indexes, state);
  ``Executed(height, state_root)`` follows.

Synced writes run on one disk thread (``node.disk_thread``): the driver awaits each
before its next action,
so the order above holds, while the event loop goes on admitting transactions and
answering peers. Events that arrive meanwhile wait in the queue: one event's actions
are all carried out before the next event is stepped.
* ``Fetch``: certified blocks from the named peers; ``FetchedBlocks`` follows.

The node also tells the replica whether it holds client work (``ClientWork``: a pending
transaction, or an election whose phase change is due), whenever that may have changed
and just before each view-timer expiry: the replica changes view on its timer only while
it waits for a request (Castro-Liskov 4.4, ``consensus.replica.timers``), so an idle
network neither churns views nor grows empty blocks.

A catch-up loop also fetches when the peers' tips show this node is behind before
consensus has noticed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from functools import partial
from typing import assert_never

from ballot_tx.block import Block
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from consensus.certificate import CommitCertificate
from consensus.events import (
    Action,
    CancelTimer,
    ClientWork,
    CommitBlock,
    Event,
    Executed,
    Fetch,
    FetchedBlocks,
    Persist,
    ProposalReady,
    Received,
    RequestProposal,
    SafetyRecord,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from consensus.messages import ConsensusMessage, PrePrepare, decode_message, encode_message
from consensus.replica import VIEW_TIMER, ReplicaState, init_state, step
from genesis.document import Genesis
from node import integrity, logs
from node.disk_thread import DiskThread
from node.ledger import Ledger
from node.mempool import Mempool
from node.network import PeerNetwork
from node.ops import Operations
from node.peer_envelope import TOPIC_CONSENSUS
from node.preverify import Verification
from node.producer import Producer
from node.store import Store
from node.supervisor import Supervisor, cancel_all
from node.sync import fetch_certified

log = logs.get("node")

SAFETY_KEY = integrity.SAFETY_KEY
CATCH_UP_POLL_S = 0.5
#: Consensus messages of one validator that may wait to be stepped (``on_consensus``).
MAX_BACKLOG_PER_SENDER = 2000
#: the catch-up loop starts no fetch within this long of the last one
CATCH_UP_PAUSE_S = 1.0


class ConsensusDriver:
    """One validator's replica, fed events one at a time, its actions carried out."""

    def __init__(self, genesis: Genesis, index: int, chain_id: bytes, keys: KeyPair,
                 store: Store, ledger: Ledger, mempool: Mempool, producer: Producer,
                 network: PeerNetwork, verification: Verification, ops: Operations,
                 supervisor: Supervisor, on_commit: Callable[[Block], None]) -> None:
        raw = store.get_meta(SAFETY_KEY)
        self.replica: ReplicaState = init_state(
            genesis, index, chain_id, keys, ledger,
            persisted=None if raw is None else decode(SafetyRecord, raw),
            committed_height=ledger.height,
            committed_hash=ledger.tip_hash() if ledger.height else None,
        )
        self.store = store
        self.ledger = ledger
        self.mempool = mempool
        self.producer = producer
        self.network = network
        self.verification = verification
        self.ops = ops
        self.supervisor = supervisor
        self.on_commit = on_commit  # a block committed (pool, waiters, metrics, ops log)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        #: consensus messages waiting in ``_events``, by the validator whose envelope
        #: brought them, and those validators in queue order (``on_consensus``)
        self._backlog: Counter[int] = Counter()
        self._backlog_order: deque[int] = deque()
        #: messages dropped by ``on_consensus``, by validator (metrics: NODE_PEER_FLOODING)
        self.flooding: Counter[int] = Counter()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: the last ``ClientWork`` fed (a replica assumes work until told otherwise)
        self._work_reported = True
        self._proposing: asyncio.Task[None] | None = None
        self._fetching: asyncio.Task[None] | None = None
        self._last_fetch = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._disk = DiskThread()  # synced writes, in the order the actions give them

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._tasks.append(self.supervisor.spawn(self._drive(), "consensus"))
        self._tasks.append(self.supervisor.spawn(self._catch_up_loop(), "catch-up"))
        self._events.put_nowait(Start())
        self._report_work()

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        await cancel_all([*self._tasks, self._proposing, self._fetching])
        # a write already on the disk thread finishes before the store may close
        self._disk.close()

    # --- inputs -----------------------------------------------------------------------

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        """Consensus messages from validator ``sender_index`` (authenticated by node.peer_routes).

        At most ``MAX_BACKLOG_PER_SENDER`` of one validator's messages wait to be stepped;
        beyond that its new ones are dropped, logged and counted as
        ``NODE_PEER_FLOODING``. A Byzantine validator streaming messages faster than this
        node can verify them thus costs bounded memory and cannot push the others'
        messages back; an honest one never has more than a few per block waiting, and a
        message it loses is one the protocol recovers from (a view change)."""
        dropped = 0
        for p in payloads:
            if self._backlog[sender_index] >= MAX_BACKLOG_PER_SENDER:
                dropped += 1
                continue
            try:
                msg = decode_message(p)
            except BallotchainError as e:
                log.debug("bad consensus message", sender=sender_index, code=e.code)
                continue
            self._backlog[sender_index] += 1
            self._backlog_order.append(sender_index)
            self._events.put_nowait(Received(msg, int(time.time() * 1000)))
        if dropped:
            self.flooding[sender_index] += dropped
            log.warning("consensus messages dropped: too many from this validator wait already",
                        sender=sender_index, dropped=dropped, code=str(ErrorCode.NODE_PEER_FLOODING))

    def work_arrived(self) -> None:
        """A transaction was admitted: the replica hears of the work (an idle view timer
        starts), and the producer looks again."""
        self._report_work()
        self.producer.changed.set()

    def pool_shrank(self) -> None:
        """Pending transactions were dropped as invalid (a sweep, or a build that refused
        them all): if none is left, the replica hears the work is gone (its view timer must
        not suspect a primary for work that no longer exists)."""
        self._report_work()

    def chain_moved(self) -> None:
        """A block committed: the replica hears if the pool emptied, the producer looks again."""
        self._report_work()
        self.producer.changed.set()

    def _report_work(self) -> None:
        """Feed ``ClientWork`` when the answer changed: transactions pending, or a block
        due for an election's phase change (which time alone can bring)."""
        pending = len(self.mempool) > 0 or self.producer.phase_change_due()
        if pending != self._work_reported:
            self._work_reported = pending
            self._events.put_nowait(ClientWork(pending))

    # --- stepping ---------------------------------------------------------------------

    async def _drive(self) -> None:
        while self.supervisor.damaged is None:
            ev = await self._events.get()
            if isinstance(ev, Received):  # (only ``on_consensus`` queues them, in this order)
                self._backlog[self._backlog_order.popleft()] -= 1
            if self.supervisor.damaged is None:
                await self._preverify(ev)
                await self._feed(ev)

    async def _feed(self, first: Event) -> None:
        """Step consensus on ``first`` and on every event its actions produce, in order."""
        pending: deque[Event] = deque([first])
        while pending:
            ev = pending.popleft()
            before = (self.replica.view, self.replica.active)
            self.replica, actions = step(self.replica, ev)
            if (self.replica.view, self.replica.active) != before:
                self.ops.stepped(before, (self.replica.view, self.replica.active),
                                 self.replica.primary(self.replica.view), ev)
            for a in actions:
                follow = await self._do(a)
                if follow is not None:
                    pending.append(follow)

    async def _preverify(self, ev: Event) -> None:
        """Check the proofs of blocks a consensus event brings on the workers before the
        event is stepped (``Ledger.validate`` then recalls the verdicts): a proposal from
        the primary of its view, and blocks this node fetched. Other carried blocks (view
        changes) are rarely validated; they are left to the inline check, so a faulty
        backup cannot make this node spend worker time on blocks it would never validate."""
        msg = ev.message if isinstance(ev, Received) else None
        if msg is not None and msg.blocks and isinstance(msg.body, PrePrepare):
            if self.replica.primary(msg.body.view) == msg.sender:
                await self.verification.blocks(msg.blocks)
        elif isinstance(ev, FetchedBlocks) and ev.blocks:
            await self.verification.blocks([b for b, _ in ev.blocks])

    async def _do(self, action: Action) -> Event | None:
        """Carry out one action; the event it produces at once, if any."""
        match action:
            case Persist(record=record):
                await self._disk.write(partial(self.store.put_meta, SAFETY_KEY, encode(record), True))
            case Send(message=message, to=to):
                self._send(message, to)
            case SetTimer(name=name, token=token, delay_ms=delay_ms):
                self._set_timer(name, token, delay_ms)
            case CancelTimer(name=name):
                handle = self._timers.pop(name, None)
                if handle is not None:
                    handle.cancel()
            case RequestProposal(height=height, view=view, prev_hash=prev_hash):
                if self._proposing is not None:
                    self._proposing.cancel()
                self._proposing = asyncio.get_running_loop().create_task(
                    self._propose(height, view, prev_hash))
            case CommitBlock(height=height, block=block, certificate=certificate):
                committed = await self.ledger.commit_on(self._disk, block, certificate)
                self.on_commit(committed)
                return Executed(height, self.ledger.state.root)
            case Fetch(from_height=from_height, peers=peers):
                links = self.network.validator_links
                urls = [links[i].url for i in peers if i in links]
                self._start_fetch(self.network.by_responsiveness(urls), from_height)
            case _:
                assert_never(action)
        return None

    def _send(self, message: ConsensusMessage, to: int | None) -> None:
        if self.supervisor.damaged is not None:
            return  # a damaged store may have misled this step: sign nothing more
        try:
            payload = encode_message(message)
        except BallotchainError as e:
            # Never reached with the genesis block-size cap and the replica's byte budget
            # for carried blocks; if it were, drop this message (the protocol retransmits
            # or changes view) instead of letting the error stop the driver.
            log.error("consensus message not sent", code=e.code, reason=e.message,
                      kind=type(message.body).__name__)
            return
        links = self.network.validator_links
        targets = links.values() if to is None else [links[to]] if to in links else []
        for link in targets:
            link.send(TOPIC_CONSENSUS, payload)

    # --- timers -----------------------------------------------------------------------

    def _set_timer(self, name: str, token: int, delay_ms: int) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(name, None)
            if name == VIEW_TIMER:
                self._report_work()  # an election's phase change may have come due meanwhile
            self._events.put_nowait(TimerFired(name, token))

        self._timers[name] = asyncio.get_running_loop().call_later(delay_ms / 1000, fire)

    # --- proposals and fetches --------------------------------------------------------

    async def _propose(self, height: int, view: int, prev_hash: bytes) -> None:
        try:
            block = await self.producer.produce(height, prev_hash)
        except BallotchainError as e:
            log.error("could not build a block", height=height, code=e.code, reason=e.message)
            return
        if block is not None:
            log.debug("proposing", height=height, view=view, txs=len(block.txs))
            self._events.put_nowait(ProposalReady(height, view, encode(block)))

    def _start_fetch(self, urls: list[str], height: int) -> None:
        if self._fetching is not None and not self._fetching.done():
            return
        self._last_fetch = time.monotonic()
        self._fetching = asyncio.get_running_loop().create_task(self._fetch(urls, height))

    async def _fetch(self, urls: list[str], height: int) -> None:
        watcher = self.network.watcher
        records = await fetch_certified(self.network.session, urls, height, watcher.failed)
        blocks = []
        for blk, cert in records:
            try:
                blocks.append((blk, decode(CommitCertificate, cert)))
            except BallotchainError:
                break
        if blocks:
            log.info("fetched blocks", first=height, count=len(blocks))
        self._events.put_nowait(FetchedBlocks(tuple(blocks)))

    async def _catch_up_loop(self) -> None:
        """Fetch when peers' tips show we are behind and consensus has not noticed yet."""
        watcher = self.network.watcher
        while True:
            await asyncio.sleep(CATCH_UP_POLL_S)
            ahead = watcher.ahead()
            if ahead and watcher.best_tip > self.ledger.height + 1 or (
                ahead and watcher.catching_up()
            ):
                if time.monotonic() - self._last_fetch > CATCH_UP_PAUSE_S:
                    self._start_fetch(ahead, self.ledger.height + 1)
