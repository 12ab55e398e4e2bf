"""Safety and liveness invariants, checked incrementally after every simulated step.

* agreement: no two honest replicas commit different blocks at one height;
* prefix consistency: every honest chain is a prefix of one chain (heights in order,
  each block on its predecessor's hash);
* at most one block prepared by a quorum (pre-prepare + 2f prepares, valid signatures)
  per (view, height), counted over every message anyone sent;
* a committed block keeps its height: any quorum-prepared block at that height in the
  commit's view or later is the committed one;
* equal state roots at stable checkpoints, and equal to the replica's own execution;
* no honest replica signs two different values for one (view, height, phase), across
  restarts;
* the VIEW-CHANGE promise: an honest replica that sent VIEW-CHANGE for view w never again
  sends PRE-PREPARE, PREPARE or COMMIT for a view below w (PBFT's safety rests on it; a
  lone replica must be brought back by the others moving up, never by it moving down);
* validity: only blocks the App accepts commit; every certificate verifies from genesis;
* block time (PBTS, ``consensus.timeliness``): a committed block's time is at least the
  real time its bytes were made minus (max honest skew + precision + msg_delay), and at
  most the real time of the commit plus (max honest skew + precision). In election terms:
  no ballot submitted after ``end + skew + precision + msg_delay`` is in a block timed
  before ``end``, and no block closes the polls more than ``skew + precision`` early;
* liveness: after the network heals every honest replica reaches the target height;
* view sync (``SimConfig.sync_ms``): within that bound after the heal, every live honest
  replica is active in one common view at the same moment: none is left alone in a higher,
  inactive view (which would leave the cluster without spare fault tolerance);
* calm (no view change without a reason): in a healthy network (no faulty validator but
  ``stray`` backups, no kills, links fast enough that a block commits within a timeout of
  its request: proposal delay + 4 message delays < T), once every replica (the stray
  ones included: one alone in a higher view is a reason, view sync) is in one view v and
  every honest one is active there, at one height and one stable checkpoint, with a block made after
  the heal (and the last restart) committed, no honest replica ever leaves v: not while idle (``replica.timers``: the view timer
  counts only while waiting for a request), not when traffic resumes just before a timer
  would expire (issue 12, fault 7), and not for a faulty backup's stray votes;
* spare fault tolerance (``SimConfig.check_kill_gap``): after validators are killed, the
  chain keeps committing; a new height follows the previous one within the view timeout T
  (no view change needed: a timeout alone takes T from the last commit) unless a killed validator is the primary, and then within the timeouts of
  the views whose primaries are dead (T, 2T, 4T, ... one doubling per view) plus T.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ballot_tx.codec import encode
from ballot_tx.errors import ConsensusError
from consensus.events import CommitBlock
from consensus.messages import (
    Checkpoint,
    Commit,
    ConsensusMessage,
    NewView,
    Prepare,
    PrePrepare,
    ViewChange,
)
from consensus.sim.base import InvariantViolation

#: faulty behaviours that give an honest network no reason to change view (calm check)
BENIGN = ("stray",)

if TYPE_CHECKING:
    from consensus.sim.world import Instance, Simulation


class Invariants:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.committed: dict[int, tuple[bytes, int]] = {}  # height -> (hash, cert view)
        self.signed: dict[tuple[int, str, int, int], bytes] = {}
        #: validator -> the highest view it sent a VIEW-CHANGE for
        self.promised: dict[int, int] = {}
        # (view, height) -> hash -> (pre-prepare signers, prepare signers)
        self.prep: dict[tuple[int, int], dict[bytes, tuple[set[int], set[int]]]] = {}
        self.quorum_prepared: dict[tuple[int, int], bytes] = {}
        self.stable_roots: dict[int, bytes] = {}
        self.max_view_at_heal = -1
        #: first simulated time every live honest replica was active in one common view
        self.synced_at: int | None = None
        #: the highest height committed by an honest replica, and when
        self.tip: tuple[int, int] = (0, 0)
        #: the longest gap between new heights after the kills: (gap ms, allowed ms)
        self.worst_gap: tuple[int, int] = (0, 0)
        self._gap_bound: int | None = None
        cfg = sim.cfg
        #: the calm check applies to this run (module docstring)
        self.calm_applies = (
            all(role in BENIGN for role in cfg.byzantine.values())
            and not cfg.kills
            and cfg.proposal_delay_ms + 4 * cfg.max_delay_ms < cfg.view_timeout_ms
        )
        self._healed = max(cfg.heal_ms, max((r for _, r, _ in cfg.crashes), default=0))
        #: the view a healthy network settled in, and when (None: not settled yet)
        self.calm: tuple[int, int] | None = None

    def fail(self, what: str) -> None:
        raise InvariantViolation(f"t={self.sim.now}ms: {what}")

    # --- per message sent --------------------------------------------------------------

    def on_send(self, inst: Instance, msg: ConsensusMessage) -> None:
        """Record what an honest replica signed and check it was persisted first."""
        body = msg.body
        if inst.honest:
            self._persisted_first(inst, msg)
            if isinstance(body, PrePrepare | Prepare | Commit):
                key = (inst.index, type(body).KIND, body.view, body.height)
            elif isinstance(body, Checkpoint):
                key = (inst.index, body.KIND, 0, body.height)
            elif isinstance(body, ViewChange):
                key = (inst.index, body.KIND, body.new_view, 0)
            else:
                key = (inst.index, body.KIND, body.view, 0)
            if isinstance(body, ViewChange):
                if body.new_view > self.promised.get(inst.index, -1):
                    self.promised[inst.index] = body.new_view
            elif isinstance(body, PrePrepare | Prepare | Commit) and msg.sender == inst.index:
                if body.view < self.promised.get(inst.index, -1):
                    self.fail(
                        f"honest validator {inst.index} sent {type(body).__name__} in view "
                        f"{body.view} after VIEW-CHANGE for view {self.promised[inst.index]}"
                    )
            value = encode(body)
            prior = self.signed.setdefault(key, value)
            if prior != value:
                self.fail(f"honest validator {inst.index} signed two values for {key[1:]}")

    def _persisted_first(self, inst: Instance, msg: ConsensusMessage) -> None:
        """The ordering contract: the durable record already holds what is being sent."""
        body, rec = msg.body, inst.record
        if isinstance(body, Checkpoint) or msg.sender != inst.index:
            return  # checkpoints follow from the durable chain; relays are not our signatures
        if rec is None:
            self.fail(f"validator {inst.index} sent {type(body).__name__} before any Persist")
            return
        if isinstance(body, PrePrepare | Prepare | Commit):
            phase = {PrePrepare: 1, Prepare: 2, Commit: 3}[type(body)]
            ok = any(
                (v.phase, v.view, v.height, v.block_hash)
                == (phase, body.view, body.height, body.block_hash)
                for v in rec.votes
            ) or body.height <= rec.checkpoint.height
        elif isinstance(body, ViewChange):
            ok = encode(body) in inst.persisted_view_changes
        else:
            ok = rec.view >= body.view
        if not ok:
            self.fail(f"validator {inst.index} sent {type(body).__name__} not yet persisted")

    def observe_signed(self, msg: ConsensusMessage) -> None:
        body = msg.body
        sim = self.sim
        if isinstance(body, PrePrepare | Prepare):
            if not sim.verifier.valid(msg.sender, body, msg.signature):
                return
            self._prep(body.view, body.height, body.block_hash, msg.sender, isinstance(body, PrePrepare))
        elif isinstance(body, NewView):
            if not sim.verifier.valid(msg.sender, body, msg.signature):
                return
            primary = body.view % sim.cfg.n
            for e in body.pre_prepares:
                if sim.verifier.valid(primary, PrePrepare(body.view, e.height, e.block_hash), e.signature):
                    self._prep(body.view, e.height, e.block_hash, primary, True)

    def _prep(self, view: int, height: int, d: bytes, signer: int, is_pp: bool) -> None:
        n, f = self.sim.cfg.n, self.sim.cfg.f
        primary = view % n
        by_hash = self.prep.setdefault((view, height), {})
        pps, prs = by_hash.setdefault(d, (set(), set()))
        if is_pp:
            if signer != primary:
                return
            pps.add(signer)
        elif signer != primary:
            prs.add(signer)
        if pps and len(prs) >= 2 * f:
            other = self.quorum_prepared.setdefault((view, height), d)
            if other != d:
                self.fail(f"two blocks prepared by a quorum at view {view} height {height}")
            c = self.committed.get(height)
            if c is not None and c[1] <= view and c[0] != d:
                self.fail(f"view {view} prepared another block at committed height {height}")

    # --- per commit ---------------------------------------------------------------------

    def on_commit(self, inst: Instance, a: CommitBlock, d: bytes) -> None:
        sim = self.sim
        h = a.height
        if h != len(inst.chain) + 1:
            self.fail(f"instance {inst.iid} committed height {h} after {len(inst.chain)}")
        prev = inst.chain[-1][0] if inst.chain else sim.chain_id
        if not sim.app.validate(h, prev, a.block):
            self.fail(f"instance {inst.iid} committed a block the app rejects at {h}")
        cert = a.certificate
        if cert.height != h or cert.block_hash != d:
            self.fail(f"certificate does not name the committed block at {h}")
        try:
            sim.check_certificate(cert)
        except ConsensusError as e:
            self.fail(f"certificate at {h} does not verify: {e.message}")
        self._check_block_time(h, a.block, d)
        if not inst.honest:
            return
        if h > self.tip[0]:
            self._check_gap(a.certificate.view)
            self.tip = (h, sim.now)
        prior = self.committed.get(h)
        if prior is not None and prior[0] != d:
            self.fail(f"agreement: two different blocks committed at height {h}")
        if prior is None or cert.view < prior[1]:
            self.committed[h] = (d, cert.view)
        for (v, height), qd in self.quorum_prepared.items():
            if height == h and v >= cert.view and qd != d:
                self.fail(f"view {v} prepared another block at committed height {h}")

    def _check_block_time(self, h: int, block: bytes, d: bytes) -> None:
        sim = self.sim
        cfg = sim.cfg
        bt = sim.app.block_time_ms(block)
        made = sim.made_at.get(d)
        if bt is None or made is None:
            self.fail(f"committed block at {h} has no time or was never made")
            return
        honest = [i for i in range(cfg.n) if i not in cfg.byzantine]
        skew = max((abs(cfg.clock_skew_ms.get(i, 0)) for i in honest), default=0)
        low = made - skew - cfg.time_precision_ms - cfg.msg_delay_ms
        high = sim.now + skew + cfg.time_precision_ms
        if not low <= bt <= high:
            self.fail(f"block time {bt} at height {h} outside [{low}, {high}] (made at {made})")

    def _kill_gap_bound(self, view: int) -> int:
        """The longest a new height may take after the kills, with ``view`` the view the
        chain committed in before them: T if its primary lives (one kill of a backup
        costs no view change while the cluster has spare tolerance, and any view change
        takes more than T from the last commit), else T + the timeouts of
        each following view whose primary is dead too (T, 2T, 4T, ...)."""
        cfg = self.sim.cfg
        dead = {i for _, i in cfg.kills}
        t = cfg.view_timeout_ms
        m = 0
        while (view + m) % cfg.n in dead:
            m += 1
        return t if m == 0 else t * ((1 << m) - 1) + t

    def _check_gap(self, view: int | None = None) -> None:
        """Spare fault tolerance: after the kills, the chain keeps committing in time."""
        sim = self.sim
        cfg = sim.cfg
        if not cfg.check_kill_gap or not cfg.kills:
            return
        kill_at = min(at for at, _ in cfg.kills)
        if sim.now < kill_at:
            return
        if self._gap_bound is None:
            # the view the chain was committing in when the kills came
            last = self.tip[0]
            v = self.committed[last][1] if last in self.committed else (view or 0)
            self._gap_bound = self._kill_gap_bound(v)
        since = max(self.tip[1], kill_at)
        gap = sim.now - since
        if gap > self.worst_gap[0]:
            self.worst_gap = (gap, self._gap_bound)
        if gap > self._gap_bound:
            self.fail(
                f"spare tolerance: no new height for {gap} ms after height {self.tip[0]} "
                f"(kills at {kill_at} ms; allowed {self._gap_bound} ms)"
            )

    def _check_sync(self) -> None:
        """View sync: by heal + sync_ms, all live honest replicas were once active in one view."""
        sim = self.sim
        cfg = sim.cfg
        if cfg.sync_ms is None or self.synced_at is not None or sim.now < cfg.heal_ms:
            return
        dead = sim.killed()
        live = [x for x in sim.honest() if x.index not in dead]
        if live and all(x.alive and x.state.active for x in live) and (
            len({x.state.view for x in live}) == 1
        ):
            self.synced_at = sim.now
        elif sim.now > cfg.heal_ms + cfg.sync_ms:
            where = sorted((x.index, x.state.view, x.state.active) for x in live)
            self.fail(
                f"view sync: {cfg.sync_ms} ms after the heal the live honest replicas are "
                f"not active in one view (validator, view, active): {where}"
            )

    def _check_calm(self) -> None:
        """Calm: a healthy network, once settled in a view, never leaves it."""
        sim = self.sim
        if not self.calm_applies or sim.now < self._healed:
            return
        live = sim.honest()
        if self.calm is None:
            # The benign faulty replicas count too: one left alone in a higher view (it
            # re-sends its VIEW-CHANGE every timeout) is the lone replica view sync brings
            # back by moving the others up (replica.view_sync), a reason to change view.
            views = {x.state.view for x in sim.instances if x.alive}
            together = {(len(x.chain), x.state.low) for x in live}
            if len(views) == 1 and len(together) == 1 and all(
                x.alive and x.state.active and x.chain and sim.made_at.get(x.chain[-1][0], -1) >= self._healed
                for x in live
            ):
                self.calm = (views.pop(), sim.now)
            return
        view, since = self.calm
        # A benign faulty replica that moved to a higher view on its own (a stray backup's
        # timer) is a reason: view sync moves the others up to it. Settle again after it.
        led = max((x.state.view for x in sim.instances if x.alive and not x.honest), default=-1)
        for x in live:
            if x.state.view > view and led >= x.state.view:
                self.calm = None
                return
            if x.state.view > view:
                self.fail(
                    f"calm: validator {x.index} of a healthy network left view {view} (settled "
                    f"there at {since} ms) for view {x.state.view}; its client work: "
                    f"{len(x.pending())} requests pending"
                )

    # --- per step -------------------------------------------------------------------------

    def after_step(self, inst: Instance) -> None:
        self._check_sync()
        self._check_calm()
        self._check_gap()
        if not inst.honest:
            return
        st = inst.state
        assert st.log.stable is not None
        h = st.log.stable.height
        if h == 0:
            return
        root = st.log.stable.state_root
        prior = self.stable_roots.setdefault(h, root)
        if prior != root:
            self.fail(f"stable checkpoints at height {h} disagree on the state root")
        if len(inst.roots) >= h and inst.roots[h - 1] != root:
            self.fail(f"instance {inst.iid} executed height {h} to a different root")

    def check_liveness(self) -> None:
        """Every honest replica reaches the target, within a bounded number of views after
        the heal: at most f views with a faulty primary, plus up to 3 for the honest
        replicas' views and timers (doubled before the heal) to line up again. The bound
        2f + 3 is what the sweeps of 10,000 schedules per n never exceeded with margin."""
        sim = self.sim
        cfg = sim.cfg
        bound = cfg.liveness_views if cfg.liveness_views is not None else 2 * cfg.f + 3
        start = sim.view_at_heal if sim.view_at_heal is not None else 0
        for inst in sim.honest():
            if inst.state.view - start > bound:
                self.fail(
                    f"liveness: honest instance {inst.iid} needed views {start}..{inst.state.view}"
                    f" after the heal, more than {bound}"
                )
        self._check_sync()
        if sim.cfg.sync_ms is not None and self.synced_at is None:
            self.fail("view sync: the live honest replicas were never active in one view")
        self._check_gap()
        target = sim.cfg.target_height
        for inst in sim.live_honest():
            if len(inst.chain) < target:
                self.fail(
                    f"liveness: honest instance {inst.iid} (validator {inst.index}) at height "
                    f"{len(inst.chain)} < {target} after heal (view {inst.state.view})"
                )
