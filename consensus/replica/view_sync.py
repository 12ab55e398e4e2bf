"""View synchronization (after §4.5.2): ``jump_target``, ``sync_target`` and
``certified_view`` bring back a replica left alone in a higher view after a fault
heals, by moving the others *up* to it, never it down. Why, and why it is safe:"""

from __future__ import annotations

from consensus.events import FetchedBlocks
from consensus.replica.state import MAX_BACKOFF, SYNC_AFTER_TIMEOUTS, ReplicaState

# After a fault heals, one replica R is often left alone in a higher view w, inactive: it
# sent VIEW-CHANGE for w while cut off, never gathered 2f+1 for it (so its timer only
# retransmits, §4.5.2), and the others committed on in a lower view v with a bare quorum.
# R still commits (it follows the COMMITs of view v), but it no longer votes, so the next
# single fault stalls the chain. R must be brought back.
#
# R must NOT rejoin v. PBFT's safety rests on the promise of a signed VIEW-CHANGE for w:
# "my prepared set is P, and I will never again send PREPARE or COMMIT in a view below w".
# A NEW-VIEW for w may be built from R's VIEW-CHANGE. Counter-example (n = 3f+1): R sends
# VC(w), then rejoins v; height h commits in v with the prepare quorum {R} + A + Byz (A =
# f honest, Byz = f faulty); a NEW-VIEW for w built from {R's stale VC} + B + Byz (B = the
# other f honest, which left v before h, e.g. partitioned) misses h's prepare and
# re-proposes another block at h, which the members of A that prepared but had not yet
# committed accept: two blocks committed at one height. Knowing that f+1 replicas are
# active in v with commits beyond R's VIEW-CHANGE does not help: such a certificate only
# shows that some member of B was in v earlier.
#
# So the others move *up* to R instead. Sending VIEW-CHANGE for a higher view is always
# safe in PBFT (it is what a timer expiry does, and safety never depends on when timers
# fire: §4.4's proof holds in any asynchronous schedule), so these rules can only cost
# liveness. The bounds below keep a Byzantine replica from abusing them.


def jump_target(st: ReplicaState) -> int | None:
    """During a view change, the lowest view x >= ours in which 2f+1 replicas can meet,
    if above ours: each replica is counted at the highest view of the VIEW-CHANGEs we hold
    from it (ourselves at our view), and one at or below x can still move up to x.

    Instead of climbing one view per doubled timeout to a replica that waits alone above
    (the §4.5.2 timer only runs once 2f+1 VIEW-CHANGEs for our view are in, which never
    happens while fewer than 2f+1 replicas are at or below it), go straight to where a
    quorum can form. Safe: only a VIEW-CHANGE for a higher view. Abuse bound: faulty
    replicas can set at most f of the counted views, and x is capped at n + 1 views above
    the last view this replica was active in, so they can push it at most that far per
    view installed (view numbers stay far from overflow; §4.5.2's f+1 rule still governs
    the rest)."""
    if st.active:
        return None
    highest: dict[int, int] = {}
    for v, vcs in st.vc.received.items():
        for s in vcs:
            if s != st.config.me and v > highest.get(s, -1):
                highest[s] = v
    views = sorted([st.view, *highest.values()])
    if len(views) < st.config.quorum:
        return None
    x = views[st.config.quorum - 1]
    if x <= st.view or x > st.sync.active_view + st.config.n + 1:
        return None
    return x


def sync_target(st: ReplicaState) -> int | None:
    """While active in view v and committing, the view w to move up to: the lowest view
    above v for which we hold a (valid) VIEW-CHANGE from another replica, once we have
    held it for SYNC_AFTER_TIMEOUTS view timeouts, counted from when it arrived or from
    when we entered v, whichever is later.

    Each honest replica decides this on its own; as soon as f+1 replicas want views above
    v (the one stuck in w included), §4.5.2's f+1 rule moves the rest to w at once. Safe:
    only a VIEW-CHANGE for a higher view. Abuse bound: a faulty replica that keeps a
    VIEW-CHANGE for a higher view standing causes at most one view change per wait, and
    each sync doubles the wait (up to 2**MAX_BACKOFF) until a full wait passes with no
    VIEW-CHANGE above us, so a persistent attacker gets ever rarer view changes; w is at
    most n views above v, so views cannot be pushed far either. An honest lone replica is
    at most one view above (it climbs only with 2f+1 VIEW-CHANGEs for its view, f+1 of them
    honest and so at least one of them among the honest replicas still in v).
    Time is the local clock of received messages (``now_ms`` never goes back): a clock
    stepped back only delays a sync, one stepped forward can bring one sync early.
    """
    if not st.active or st.progress_view != st.view:
        return None  # a view change is underway, or this view has not committed yet
    wait = (SYNC_AFTER_TIMEOUTS * st.config.timeout_ms) << st.sync.backoff
    above = [v for v, vcs in st.vc.received.items() if v > st.view and any(s != st.config.me for s in vcs)]
    if not above:
        if st.sync.backoff and st.sync.now_ms - st.sync.view_since_ms >= wait:
            st.sync.backoff = 0  # a calm period: the next lone replica is synced promptly
        return None
    w = min(above)
    if w > st.view + st.config.n:
        return None
    since = max(st.sync.vc_seen_at.get(w, st.sync.now_ms), st.sync.view_since_ms)
    if st.sync.now_ms - since < wait:
        return None
    return w


def certified_view(st: ReplicaState, ev: FetchedBlocks) -> int | None:
    """A view above ours in which blocks we just fetched were certified (the highest).

    A commit certificate holds 2f+1 COMMITs of its view, so at least f+1 honest replicas
    entered that view: we are behind (e.g. we formed a view of our own with stale help
    while the others went on without us), and asking for that view at once beats waiting
    for our timer. Only a VIEW-CHANGE for a higher view (safe), and faulty replicas cannot
    forge the view: the certificates were verified before their blocks were committed."""
    views = [c.view for b, c in ev.blocks if st.log.committed.get(c.height) == c.block_hash]
    w = max(views, default=-1)
    return w if w > st.view else None


def sync_view(st: ReplicaState) -> int | None:
    """The view to move up to now (``sync_target``), if any, with the move counted: the
    caller sends the VIEW-CHANGE for it."""
    w = sync_target(st)
    if w is None:
        return None
    st.sync.backoff = min(st.sync.backoff + 1, MAX_BACKOFF)
    st.progress_view = w - 1  # the view was committing: the move is not a failed view
    return w
