"""Catch-up, asking: a replica behind the others (f+1 of them speak of heights above its
next one, or a proven checkpoint is above its chain) asks them for committed blocks with
their certificates (``Fetch``); ``catch_up`` applies what comes back."""

from __future__ import annotations

from consensus.events import Action, Fetch, SetTimer
from consensus.replica.state import FETCH_TIMER, ReplicaState


def note_height(st: ReplicaState, sender: int, height: int, out: list[Action]) -> None:
    if height > st.catchup.claimed.get(sender, 0):
        st.catchup.claimed[sender] = height
        if height > st.log.last_committed + 1:
            check_behind(st, out)


def check_behind(st: ReplicaState, out: list[Action]) -> None:
    """f+1 validators speaking about heights above our next one: at least one honest
    replica committed beyond us, so fetch certified blocks instead of waiting."""
    ahead = tuple(sorted(i for i, h in st.catchup.claimed.items() if h > st.log.last_committed + 1))
    if len(ahead) >= st.config.f + 1:
        request_fetch(st, ahead, out)


def request_fetch(st: ReplicaState, peers: tuple[int, ...], out: list[Action]) -> None:
    peers = tuple(p for p in peers if p != st.config.me)
    if st.catchup.fetching is not None or not peers:
        return
    st.catchup.fetching = st.log.last_committed + 1
    out.append(Fetch(st.log.last_committed + 1, peers))
    st.timers.token += 1
    st.timers.fetch_token = st.timers.token
    out.append(SetTimer(FETCH_TIMER, st.timers.token, st.config.timeout_ms))
