"""The view timer (§4.4) with the doubling of §4.5.2, and the view-change timer that
only runs once 2f+1 VIEW-CHANGEs for our view are in.

The view timer counts only while the replica waits for a request. §4.4: "A backup is
waiting for a request if it received a valid request and has not executed it. A backup
starts a timer when it receives a request and the timer is not already running. It stops
the timer when it is no longer waiting to execute the request, but restarts it if at that
point it is waiting to execute some other request." So an idle network (no client work)
never changes view, however long it stays idle, and a primary that withholds proposals
while work is pending is still replaced one timeout after the work arrived.
"""

from __future__ import annotations

from consensus.events import Action, SetTimer
from consensus.replica.state import MAX_BACKOFF, VIEW_TIMER, ReplicaState


def arm_view_timer(st: ReplicaState, out: list[Action], backoff: bool = True) -> None:
    doublings = min(max(0, st.view - st.progress_view), MAX_BACKOFF) if backoff else 0
    st.timers.token += 1
    st.timers.view_token = st.timers.token
    st.vc.helped.clear()
    out.append(SetTimer(VIEW_TIMER, st.timers.token, st.config.timeout_ms << doublings))


def arm_view_change_timer(st: ReplicaState, out: list[Action]) -> None:
    """§4.5.2: after sending VIEW-CHANGE for v+1, start the (doubling) timer only once
    2f+1 VIEW-CHANGEs for v+1 are in, so no replica races ahead through views alone.
    Until then the timer only retransmits our VIEW-CHANGE (the network may have lost it)."""
    if len(st.vc.received.get(st.view, {})) >= st.config.quorum:
        st.timers.vc_running = True
        arm_view_timer(st, out)
    else:
        arm_view_timer(st, out, backoff=False)


def waiting(st: ReplicaState) -> bool:
    """Waiting for a request (§4.4): changing view (the timer is then the view-change
    timer), the node holds client work (``ClientWork``), or the primary of this view
    proposed a block above our chain that has not committed yet (the request reached us
    inside its PRE-PREPARE).

    Only a proposal of the current primary counts: a slot left from an earlier view (an
    untimely or invalid proposal that the view change already answered), or one opened by
    a stray PREPARE/COMMIT of a faulty backup, must not make an idle network churn views
    (round robin would soon hand the primary role back to the faulty validator)."""
    if not st.active or st.timers.client_work:
        return True
    return any(
        v == st.view and h > st.log.last_committed and slot.pp_hash is not None
        for (v, h), slot in st.log.slots.items()
    )


def view_timer_expired(st: ReplicaState, out: list[Action]) -> bool:
    """The view timer of an active replica expired: True if that suspects the primary
    (the caller starts a view change). Not waiting for a request, the paper's timer is
    stopped; this one is armed again instead, so work that only time brings (an election
    phase change coming due) is noticed at the next expiry, when the node reports it."""
    if waiting(st):
        return True
    arm_view_timer(st, out)
    return False


def start_on_request(
    st: ReplicaState, was_waiting: bool, token_before: int, out: list[Action]
) -> None:
    """§4.4: "A backup starts a timer when it receives a request and the timer is not
    already running": an active replica that was not waiting and now is (the node reported
    client work, or the primary's proposal arrived) restarts its view timer with the full
    delay, unless this step armed it anyway (``token_before``: the view timer's token
    before the step). Without this the timer kept the phase of the
    last commit, and traffic resuming just before it expired changed the view of a healthy
    network (issue 12, fault 7)."""
    if was_waiting or not st.active or st.timers.view_token != token_before:
        return
    if waiting(st):
        arm_view_timer(st, out)
