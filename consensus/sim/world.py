"""The simulated world: validators, a hostile network, simulated time, invariant checks.

``Simulation(config).run()`` drives replicas (``consensus.replica.step``) with events
from a seeded priority queue: deliveries (dropped, delayed, duplicated, reordered,
partitioned before ``heal_ms``), timers, block proposals, fetch answers, crashes and
restarts, and client work (``Clients``: requests that arrive in bursts and leave the
network idle in between; without it every replica always has work pending). Byzantine validators follow the protocol through a real replica but tamper with
what they send (``consensus.sim.byzantine``). ``Invariants`` is checked after every step;
the first violation raises ``InvariantViolation`` naming the seed, so
``replay(seed, n)`` reproduces it exactly.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from ballot_tx.codec import encode
from ballot_tx.keys import node_id
from consensus.certificate import CommitCertificate, check_certificate
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
from consensus.messages import ConsensusMessage
from consensus.replica import ReplicaState, init_state, step
from consensus.sim.app import SimApp, make_block, next_root
from consensus.sim.base import InvariantViolation, sim_key
from consensus.sim.byzantine import Adversary
from consensus.sim.invariants import Invariants
from consensus.verify import Verifier
from genesis.document import ConsensusParams, Genesis, Member, genesis_hash

GENESIS_ROOT = bytes(32)


@dataclass(frozen=True)
class Clients:
    """Clients that submit work and go idle: a request every ``every_ms`` during each
    burst ``[start_ms, end_ms)`` (``end_ms`` None: until the run ends). A request reaches
    every validator after a network delay (the node re-forwards until it commits, so it
    is never lost) and is pending there until a block that holds it commits; the replica
    is told with ``ClientWork`` whenever that changes, and an honest primary proposes only
    with work pending (the node's producer waits for it)."""

    bursts: tuple[tuple[int, int | None], ...]
    every_ms: int = 25


@dataclass
class SimConfig:
    n: int = 4
    seed: int = 0
    target_height: int = 6
    checkpoint_interval: int = 2
    view_timeout_ms: int = 200
    #: network misbehaviour before ``heal_ms`` (after it: no loss, delay <= max_delay_ms)
    drop: float = 0.0
    duplicate: float = 0.0
    min_delay_ms: int = 1
    max_delay_ms: int = 20
    heal_ms: int = 0
    #: list of (start_ms, end_ms, groups); messages between groups are dropped
    partitions: list[tuple[int, int, tuple[frozenset[int], ...]]] = field(default_factory=list)
    #: validator index -> behaviour name (see byzantine.BEHAVIOURS); "twin" = two instances
    byzantine: dict[int, str] = field(default_factory=dict)
    #: (crash_ms, restart_ms, validator index) of honest validators
    crashes: list[tuple[int, int, int]] = field(default_factory=list)
    #: (kill_ms, validator index): honest validators stopped for good (after the heal: the
    #: faults the cluster must still tolerate). Liveness is then asked of the others only.
    kills: list[tuple[int, int]] = field(default_factory=list)
    #: view sync (invariants.py): by ``heal_ms + sync_ms`` every live honest replica must
    #: have been active in one common view at once (None: not checked)
    sync_ms: int | None = None
    #: after the kills, no gap between two new heights may exceed the stall that the killed
    #: primaries explain (invariants.py); False: not checked
    check_kill_gap: bool = False
    #: do not stop before this time, even with the target reached
    run_until_ms: int = 0
    #: give up (liveness failure) if the target is not reached this long after heal
    liveness_ms: int = 60_000
    #: ... and within this many views after the heal (None: 2f + 3, see invariants.py)
    liveness_views: int | None = None
    proposal_delay_ms: int = 5
    #: PBTS parameters (genesis params); msg_delay None: max_delay + proposal_delay +
    #: precision, what an honest primary's proposal needs after the heal
    time_precision_ms: int = 20
    time_msg_delay_ms: int | None = None
    #: validator index -> its clock's offset from real (simulated) time; honest offsets
    #: stay within +-precision/2, so honest clocks are within precision of each other
    clock_skew_ms: dict[int, int] = field(default_factory=dict)
    #: client work (None: every replica always has work pending, the paper's busy service,
    #: and no ``ClientWork`` is fed)
    clients: Clients | None = None
    #: check invariants after every step (off only for benchmarks)
    check: bool = True
    #: a run needing more steps than this is a message storm: reported as a failure
    max_steps: int = 200_000

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def msg_delay_ms(self) -> int:
        if self.time_msg_delay_ms is not None:
            return self.time_msg_delay_ms
        return self.max_delay_ms + self.proposal_delay_ms + self.time_precision_ms


def sim_genesis(
    n: int, checkpoint_interval: int, view_timeout_ms: int, precision_ms: int = 20, msg_delay_ms: int = 45
) -> Genesis:
    members = tuple(
        Member(
            node_id(sim_key(i).ed25519_public),
            sim_key(i).ed25519_public,
            sim_key(i).x25519_public,
            f"127.0.0.1:{7700 + i}",
        )
        for i in range(n)
    )
    return Genesis(
        version=1,
        chain_id="sim",
        genesis_time_ms=0,
        validators=members,
        observers=(),
        authorities=(),
        params=ConsensusParams(500, 10, view_timeout_ms, checkpoint_interval, 1 << 20, precision_ms, msg_delay_ms),
    )


@dataclass
class Instance:
    """One running replica process (twins are two instances of one validator)."""

    iid: int
    index: int
    role: str  # "honest", "twin" or a Byzantine behaviour
    state: ReplicaState
    chain: list[tuple[bytes, bytes, CommitCertificate]] = field(default_factory=list)
    roots: list[bytes] = field(default_factory=list)
    record: SafetyRecord | None = None
    alive: bool = True
    epoch: int = 0
    persisted_view_changes: set[bytes] = field(default_factory=set)
    #: client requests that reached this validator, and those in its committed blocks
    requests: set[int] = field(default_factory=set)
    served: set[int] = field(default_factory=set)
    #: the last ``ClientWork`` fed (a replica assumes work until told otherwise)
    work_fed: bool = True
    #: a proposal asked for while no work was pending (made when work arrives)
    asked: RequestProposal | None = None

    def pending(self) -> set[int]:
        return self.requests - self.served

    @property
    def honest(self) -> bool:
        return self.role == "honest"

    def tip(self) -> tuple[int, bytes | None]:
        return len(self.chain), (self.chain[-1][0] if self.chain else None)


class Simulation:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.genesis = sim_genesis(
            cfg.n, cfg.checkpoint_interval, cfg.view_timeout_ms, cfg.time_precision_ms, cfg.msg_delay_ms
        )
        self.chain_id = genesis_hash(self.genesis)
        self.app = SimApp()
        self.verifier = Verifier(tuple(v.ed25519_public for v in self.genesis.validators), self.chain_id)
        self.now = 0
        self._seq = 0
        self.queue: list[tuple[int, int, str, Any]] = []
        self.instances: list[Instance] = []
        for i in range(cfg.n):
            role = cfg.byzantine.get(i, "honest")
            copies = 2 if role == "twin" else 1
            if role == "silent":
                continue
            for _ in range(copies):
                self._new_instance(i, role)
        self.inv = Invariants(self)
        self.adversary = Adversary(self)
        self.steps = 0
        self.delivered = 0
        #: the highest honest view when the network healed (liveness counts views from it)
        self.view_at_heal: int | None = None
        #: (validator, view, active) of every honest instance when the network healed
        self.views_at_heal: list[tuple[int, int, bool]] = []
        #: block hash -> the simulated real time its bytes were made (PBTS invariant)
        self.made_at: dict[bytes, int] = {}
        #: client requests submitted so far, and block hash -> the requests it holds
        self.submitted = 0
        self.in_block: dict[bytes, frozenset[int]] = {}

    # --- setup ------------------------------------------------------------------------

    def _new_instance(self, index: int, role: str) -> Instance:
        st = init_state(self.genesis, index, self.chain_id, sim_key(index), self.app)
        inst = Instance(len(self.instances), index, role, st)
        self.instances.append(inst)
        return inst

    def honest(self) -> list[Instance]:
        return [x for x in self.instances if x.honest]

    def killed(self) -> set[int]:
        """Validators stopped for good by now."""
        return {i for at, i in self.cfg.kills if at <= self.now}

    def live_honest(self) -> list[Instance]:
        """Honest instances not stopped for good (a crash-restarted one counts)."""
        gone = {i for _, i in self.cfg.kills}
        return [x for x in self.instances if x.honest and x.index not in gone]

    def clock(self, index: int) -> int:
        """Validator ``index``'s local clock now (real time plus its skew)."""
        return self.now + self.cfg.clock_skew_ms.get(index, 0)

    def made(self, block: bytes) -> bytes:
        """Note when a block was made; returns its hash."""
        d = self.app.block_hash(block)
        self.made_at.setdefault(d, self.now)
        return d

    # --- the event queue ------------------------------------------------------------------

    def push(self, at: int, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (at, self._seq, kind, payload))

    def run(self) -> Simulation:
        cfg = self.cfg
        for inst in self.instances:
            self.push(0, "event", (inst.iid, inst.epoch, Start()))
        if cfg.clients is not None:
            for inst in self.instances:
                self._work_changed(inst)
            for start, end in cfg.clients.bursts:
                self.push(start, "submit", end)
        for crash, restart, idx in cfg.crashes:
            self.push(crash, "crash", idx)
            self.push(restart, "restart", idx)
        for at, idx in cfg.kills:
            self.push(at, "crash", idx)
        healed = max(cfg.heal_ms, max((r for _, r, _ in cfg.crashes), default=0))
        deadline = healed + cfg.liveness_ms
        while self.queue:
            at, _, kind, payload = heapq.heappop(self.queue)
            self.now = at
            if at > deadline:
                break
            if at >= healed and self.view_at_heal is None:
                self.view_at_heal = max(x.state.view for x in self.honest())
                self.views_at_heal = sorted(
                    (x.index, x.state.view, x.state.active) for x in self.honest()
                )
            if kind == "event":
                iid, epoch, ev = payload
                inst = self.instances[iid]
                if inst.alive and inst.epoch == epoch:
                    self.feed(inst, ev)
            elif kind == "deliver":
                self._deliver(*payload)
            elif kind == "crash":
                self._crash(payload)
            elif kind == "restart":
                self._restart(payload)
            elif kind == "submit":
                self._submit(payload)
            elif kind == "request":
                self._request(*payload)
            if self._done():
                break
        if self.cfg.check:
            self.inv.check_liveness()
        return self

    def _done(self) -> bool:
        if self.now < max(self.cfg.heal_ms, self.cfg.run_until_ms) or any(
            self.now < r for _, r, _ in self.cfg.crashes
        ):
            return False
        return all(len(x.chain) >= self.cfg.target_height for x in self.live_honest())

    # --- driving one replica ----------------------------------------------------------------

    def feed(self, inst: Instance, ev: Event) -> None:
        """One step of one replica, its actions carried out, invariants checked."""
        self.steps += 1
        if self.steps > self.cfg.max_steps:
            self.inv.fail(f"message storm: more than {self.cfg.max_steps} steps")
        _, actions = step(inst.state, ev)
        if isinstance(ev, TimerFired) and not inst.honest:
            self.adversary.on_timer(inst)
        if self.cfg.check:
            self.inv.after_step(inst)
        self.carry_out(inst, actions)

    def carry_out(self, inst: Instance, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                if self.cfg.check:
                    self.inv.on_send(inst, a.message)
                for msg, to in self.adversary.outgoing(inst, a.message, a.to):
                    if self.cfg.check:
                        self.inv.observe_signed(msg)
                    self.broadcast(inst.index, msg, to)
            elif isinstance(a, Persist):
                inst.record = a.record  # durable at once: the contract's strongest form
                if a.record.view_change is not None:
                    inst.persisted_view_changes.add(encode(a.record.view_change))
            elif isinstance(a, SetTimer):
                self.push(self.now + a.delay_ms, "event", (inst.iid, inst.epoch, TimerFired(a.name, a.token)))
            elif isinstance(a, CancelTimer):
                pass  # stale fires are ignored by token
            elif isinstance(a, RequestProposal):
                self.adversary.propose(inst, a)
            elif isinstance(a, CommitBlock):
                self._commit(inst, a)
            elif isinstance(a, Fetch):
                self._fetch(inst, a)

    def propose(self, inst: Instance, a: RequestProposal, valid: bool = True) -> None:
        if self.cfg.clients is not None and not inst.pending():
            inst.asked = a  # nothing to propose yet: the producer waits for work
            return
        nonce = self.rng.randrange(1 << 32)
        block = make_block(a.height, a.prev_hash, inst.iid, nonce, valid, self.clock(inst.index))
        self.in_block[self.made(block)] = frozenset(inst.pending())
        self.push(
            self.now + self.cfg.proposal_delay_ms,
            "event",
            (inst.iid, inst.epoch, ProposalReady(a.height, a.view, block)),
        )

    def _commit(self, inst: Instance, a: CommitBlock) -> None:
        d = self.app.block_hash(a.block)
        if self.cfg.check:
            self.inv.on_commit(inst, a, d)
        prev_root = inst.roots[-1] if inst.roots else GENESIS_ROOT
        root = next_root(prev_root, d)
        inst.chain.append((d, a.block, a.certificate))
        inst.roots.append(root)
        served = self.in_block.get(d)
        if served:
            inst.served |= served
            self._work_changed(inst)
        self.feed(inst, Executed(a.height, root))

    def _fetch(self, inst: Instance, a: Fetch) -> None:
        peers = list(a.peers)
        self.rng.shuffle(peers)
        for p in peers:
            src = [x for x in self.instances if x.index == p and x.alive]
            if not src:
                continue
            blocks = self.adversary.fetch_answer(src[0], a.from_height)
            delay = self.rng.randint(self.cfg.min_delay_ms, self.cfg.max_delay_ms)
            self.push(self.now + delay, "event", (inst.iid, inst.epoch, FetchedBlocks(blocks)))
            return

    def chain_slice(self, src: Instance, from_height: int, limit: int = 16) -> tuple[tuple[bytes, CommitCertificate], ...]:
        return tuple((b, c) for _, b, c in src.chain[from_height - 1 : from_height - 1 + limit])

    # --- client work ---------------------------------------------------------------------

    def _submit(self, end: int | None) -> None:
        """A client submits a request to every validator; the next one follows in the burst."""
        assert self.cfg.clients is not None
        self.submitted += 1
        for i in range(self.cfg.n):
            delay = self.rng.randint(self.cfg.min_delay_ms, self.cfg.max_delay_ms)
            self.push(self.now + delay, "request", (i, self.submitted))
        nxt = self.now + self.cfg.clients.every_ms
        if end is None or nxt < end:
            self.push(nxt, "submit", end)

    def _request(self, index: int, request: int) -> None:
        for inst in self.instances:
            if inst.index == index:
                inst.requests.add(request)
                self._work_changed(inst)

    def _work_changed(self, inst: Instance) -> None:
        """Tell the replica when its client work changed (as the node does), and make a
        proposal that waited for work."""
        if not inst.alive:
            return
        pending = bool(inst.pending())
        if pending != inst.work_fed:
            inst.work_fed = pending
            self.push(self.now, "event", (inst.iid, inst.epoch, ClientWork(pending)))
        a, st = inst.asked, inst.state
        if pending and a is not None:
            inst.asked = None
            if st.active and st.view == a.view and st.log.last_committed + 1 == a.height:
                self.propose(inst, a)

    # --- the network ----------------------------------------------------------------------------

    def _cut(self, a: int, b: int) -> bool:
        for start, end, groups in self.cfg.partitions:
            if start <= self.now < end:
                ga = next((g for g in groups if a in g), None)
                if ga is None or b not in ga:
                    return True
        return False

    def broadcast(self, sender: int, msg: ConsensusMessage, to: int | None) -> None:
        targets = [to] if to is not None else [i for i in range(self.cfg.n) if i != sender]
        cfg = self.cfg
        hostile = self.now < cfg.heal_ms
        for t in targets:
            if hostile and (self._cut(sender, t) or self.rng.random() < cfg.drop):
                continue
            copies = 2 if hostile and self.rng.random() < cfg.duplicate else 1
            for _ in range(copies):
                hi = cfg.max_delay_ms * (5 if hostile else 1)
                self.push(self.now + self.rng.randint(cfg.min_delay_ms, hi), "deliver", (t, msg))

    def _deliver(self, index: int, msg: ConsensusMessage) -> None:
        self.delivered += 1
        self.adversary.observe(msg)
        for inst in self.instances:
            if inst.index == index and inst.alive:
                self.feed(inst, Received(msg, self.clock(inst.index)))

    # --- crashes ----------------------------------------------------------------------------

    def _crash(self, index: int) -> None:
        for inst in self.instances:
            if inst.index == index and inst.honest:
                inst.alive = False
                inst.epoch += 1

    def _restart(self, index: int) -> None:
        for inst in self.instances:
            if inst.index == index and inst.honest and not inst.alive:
                h, d = inst.tip()
                inst.state = init_state(
                    self.genesis, index, self.chain_id, sim_key(index), self.app,
                    persisted=inst.record, committed_height=h, committed_hash=d,
                )
                if inst.roots:
                    inst.state.log.roots[h] = inst.roots[-1]
                inst.alive = True
                inst.work_fed, inst.asked = True, None
                self.push(self.now, "event", (inst.iid, inst.epoch, Start()))
                if self.cfg.clients is not None:
                    self._work_changed(inst)

    def check_certificate(self, cert: CommitCertificate) -> None:
        check_certificate(self.verifier, cert)


def run_schedule(cfg: SimConfig) -> Simulation:
    """Run one schedule; raise ``InvariantViolation`` (with the seed) on any violation."""
    try:
        return Simulation(cfg).run()
    except InvariantViolation as e:
        raise InvariantViolation(f"seed={cfg.seed} n={cfg.n}: {e}") from None
