"""View sync: a replica left alone in a higher view after a fault is brought back by the
others moving up to it (``view_sync.sync_target``, ``jump_target``), never by it moving
down, so the cluster regains its spare fault tolerance.

The lone-replica scenario: a partition isolates validator(s) until their view timers put
them alone in view 1 (inactive: no 2f+1 VIEW-CHANGEs for it) while the rest commit on in
view 0; the network heals; later validators are killed, so many that the chain can only go
on with the isolated ones voting. Checked by the simulation's invariants (sync within a
bound after the heal, no stall after the kills beyond what the dead primaries explain, the
VIEW-CHANGE promise) and by what the certificates show.
"""

from __future__ import annotations

import pytest

import consensus.replica as replica
from consensus.certificate import CommitCertificate
from consensus.events import FetchedBlocks, Received, Send, TimerFired
from consensus.messages import Commit, ConsensusMessage, ViewChange, VoteSig
from consensus.replica import SYNC_AFTER_TIMEOUTS, VIEW_TIMER, normal_case, step, view_sync
from consensus.sim.base import InvariantViolation
from consensus.sim.world import SimConfig, Simulation, run_schedule
from tests.consensus.fixtures import Net, sends

T = 200
SYNC_MS = (SYNC_AFTER_TIMEOUTS + 3) * T


def lone_config(
    n: int = 4, lone: tuple[int, ...] = (3,), kill: tuple[int, ...] = (2,), heal: int = 600,
    seed: int = 5, sync: bool = True, **kw: object,
) -> SimConfig:
    side = frozenset(lone)
    kill_at = heal + SYNC_MS + 50
    return SimConfig(
        n=n, seed=seed, target_height=3, view_timeout_ms=T, max_delay_ms=5, heal_ms=heal,
        partitions=[(0, heal, (side, frozenset(range(n)) - side))],
        kills=[(kill_at, k) for k in kill], sync_ms=SYNC_MS if sync else None,
        check_kill_gap=True, run_until_ms=kill_at + 6 * T, proposal_delay_ms=50,
        **kw,  # type: ignore[arg-type]
    )


def certified_after(sim: Simulation, t_height: int) -> list[set[int]]:
    """Signers of the certificates above ``t_height`` at a surviving replica."""
    x = max(sim.live_honest(), key=lambda i: len(i.chain))
    return [{s.validator for s in cert.sigs} for _, _, cert in x.chain[t_height:]]


def test_lone_replica_is_synced_and_a_later_kill_costs_no_view_change() -> None:
    cfg = lone_config()
    sim = run_schedule(cfg)
    # at the heal, validator 3 was alone in view 1, inactive; the rest active in view 0
    assert sim.views_at_heal == [(0, 0, True), (1, 0, True), (2, 0, True), (3, 1, False)]
    assert sim.inv.synced_at is not None and sim.inv.synced_at <= cfg.heal_ms + SYNC_MS
    views = {(x.state.view, x.state.active) for x in sim.live_honest()}
    assert views == {(1, True)}  # everyone moved up to 3's view; 3 did not move down
    gap, allowed = sim.inv.worst_gap
    assert allowed == T and gap < T  # killing a backup needed no view change at all
    # after the kill, every certificate needs validator 3: it votes again
    kill_at = cfg.kills[0][0]
    x = sim.live_honest()[0]
    after = [c for _, b, c in x.chain if (sim.app.block_time_ms(b) or 0) > kill_at]
    assert len(after) >= 5 and all(3 in {s.validator for s in c.sigs} for c in after)


def test_killing_the_synced_views_primary_costs_one_timeout() -> None:
    sim = run_schedule(lone_config(kill=(1,)))  # view 1's primary
    gap, allowed = sim.inv.worst_gap
    assert allowed == 2 * T and T < gap <= 2 * T
    assert {x.state.view for x in sim.live_honest()} == {2}


def test_two_lone_replicas_of_seven() -> None:
    cfg = lone_config(n=7, lone=(3, 5), kill=(2,))
    sim = run_schedule(cfg)
    assert [(i, v, a) for i, v, a in sim.views_at_heal if i in (3, 5)] == [(3, 1, False), (5, 1, False)]
    assert sim.inv.synced_at is not None
    assert sim.inv.worst_gap[0] < T
    assert len({x.state.view for x in sim.live_honest()}) == 1


def no_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code before view sync: nobody moves up to a lone replica."""
    monkeypatch.setattr(view_sync, "sync_view", lambda st: None)


def test_without_view_sync_the_replica_stays_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sync(monkeypatch)
    with pytest.raises(InvariantViolation, match=r"view sync: .*\(3, 1, False\)"):
        run_schedule(lone_config())


def test_without_view_sync_a_single_kill_stalls_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sync(monkeypatch)
    with pytest.raises(InvariantViolation, match="spare tolerance: no new height"):
        run_schedule(lone_config(sync=False))


def test_rejoining_the_lower_view_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tempting fix, a lone replica going back to the view the others commit in, breaks
    the VIEW-CHANGE promise PBFT's safety rests on: the simulation refuses it."""
    orig = normal_case.on_commit

    def rejoin(st: replica.ReplicaState, sender: int, c: Commit, sig: bytes, out: list) -> None:  # type: ignore[type-arg]
        orig(st, sender, c, sig, out)
        if not st.active and c.view < st.view and c.height > st.log.last_committed - 1:
            st.view, st.active = c.view, True  # "f+1 are in view v, committing: rejoin it"
            st.vc.sent = None

    monkeypatch.setattr(normal_case, "on_commit", rejoin)
    with pytest.raises(InvariantViolation, match="after VIEW-CHANGE for view 1"):
        run_schedule(lone_config())


# --- the rules one by one, on a single replica ---------------------------------------------

NET = Net(4)


def vc_from(i: int, view: int) -> ConsensusMessage:
    return NET.msg(i, NET.view_change(view))


def test_sync_waits_its_bound_and_only_for_views_close_above() -> None:
    st = NET.replica(0)
    t0 = 1_000_000
    step(st, Received(vc_from(3, 1), t0))
    wait = SYNC_AFTER_TIMEOUTS * st.config.timeout_ms
    _, out = step(st, Received(vc_from(3, 1), t0 + wait - 1))
    assert st.active and st.view == 0 and not sends(out)
    _, out = step(st, Received(vc_from(3, 1), t0 + wait))
    assert not st.active and st.view == 1
    assert [type(m.body) for m in sends(out)] == [ViewChange] and sends(out)[0].body.new_view == 1
    assert st.sync.backoff == 1  # the next sync waits twice as long

    far = NET.replica(1)
    far_view = 0 + far.config.n + 1  # a faulty replica cannot pull views arbitrarily high
    step(far, Received(vc_from(3, far_view), t0))
    step(far, Received(vc_from(3, far_view), t0 + 100 * wait))
    assert far.active and far.view == 0


def test_sync_needs_a_committing_view() -> None:
    st = NET.replica(0)
    st.progress_view = -1  # nothing committed in the current view: the timer decides
    step(st, Received(vc_from(3, 1), 0))
    step(st, Received(vc_from(3, 1), 10 * SYNC_AFTER_TIMEOUTS * st.config.timeout_ms))
    assert st.active and st.view == 0


def test_jump_goes_straight_to_where_a_quorum_can_meet() -> None:
    st = NET.replica(0)
    _, out = step(st, TimerFired(VIEW_TIMER, st.timers.view_token))  # view change to 1
    assert (st.view, st.active) == (1, False)
    step(st, Received(vc_from(1, 1), 0))
    assert st.view == 1  # {0: 1, 1: 1} and nobody else: no quorum anywhere yet
    _, out = step(st, Received(vc_from(3, 3), 0))
    # 0 and 1 can move up to 3, where validator 3 waits: 2f+1 = 3 meet in view 3
    assert st.view == 3 and [m.body.new_view for m in sends(out) if isinstance(m.body, ViewChange)] == [3]
    assert st.view - st.progress_view == 2  # the jump counts as one failed view, not three


def test_jump_is_capped_above_the_last_active_view() -> None:
    st = NET.replica(0)
    step(st, TimerFired(VIEW_TIMER, st.timers.view_token))
    step(st, Received(vc_from(1, 1), 0))
    cap = st.sync.active_view + st.config.n + 1
    step(st, Received(vc_from(3, cap + 1), 0))
    assert st.view == 1
    step(st, Received(vc_from(2, cap), 0))  # now 1, 2, 3 ... the third lowest is cap
    assert st.view == cap


def test_a_fetched_certificate_of_a_higher_view_asks_for_that_view() -> None:
    st = NET.replica(2)
    b1 = NET.block(1)
    d1 = NET.digest(b1)
    sigs = tuple(VoteSig(i, NET.sign(i, Commit(4, 1, d1))) for i in (0, 1, 3))
    _, out = step(st, FetchedBlocks(((b1, CommitCertificate(1, 4, d1, sigs)),)))
    assert st.log.last_committed == 1 and st.view == 4 and not st.active
    assert [m.body.new_view for m in sends(out) if isinstance(m.body, ViewChange)] == [4]
    assert st.progress_view == 0  # another view's certificate is not progress of ours


def test_a_luring_replica_gets_ever_rarer_view_changes() -> None:
    """A faulty validator that keeps posing as stuck one view above makes the others sync
    up, but each sync doubles the wait: in 16 s (80 timeouts, 26 periods of the first wait)
    it gets a handful of view changes, and the chain keeps committing."""
    cfg = SimConfig(n=4, seed=12, byzantine={3: "lure"}, target_height=3, view_timeout_ms=T,
                    max_delay_ms=5, proposal_delay_ms=50, run_until_ms=16_000)
    sim = run_schedule(cfg)
    lured = sim.adversary.lured
    views = {x.state.view for x in sim.honest()}
    assert len(lured) >= 3  # it did pose as stuck, view after view
    assert max(views) <= 6, views  # 600 ms, then 1.2, 2.4, 4.8, 9.6 s between syncs
    assert min(len(x.chain) for x in sim.honest()) > 150


def test_view_sync_sends_only_view_changes() -> None:
    """Wire-visible behaviour is unchanged: a sync is an ordinary VIEW-CHANGE."""
    st = NET.replica(0)
    step(st, Received(vc_from(3, 1), 0))
    _, out = step(st, Received(vc_from(3, 1), SYNC_AFTER_TIMEOUTS * st.config.timeout_ms))
    assert all(isinstance(a.message.body, ViewChange) for a in out if isinstance(a, Send))
