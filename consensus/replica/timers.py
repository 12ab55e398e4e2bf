"""The view timer (§4.4) with the doubling of §4.5.2, and the view-change timer that
only runs once 2f+1 VIEW-CHANGEs for our view are in."""

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
