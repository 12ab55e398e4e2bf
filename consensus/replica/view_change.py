"""Leaving a view (§4.4): stop normal operation and multicast VIEW-CHANGE. The rest of
the view change (the others' VIEW-CHANGEs, NEW-VIEW, entering the new view) is
``new_view``; checking and building the messages is ``consensus.viewchange``.

Any rule may suspect the primary (a timer, an invalid proposal, view sync), so this part
depends on nothing but signing and the timers; the new view, which runs the normal case
again, sits above it."""

from __future__ import annotations

from consensus.events import Action, Persist
from consensus.messages import SignedViewChange, ViewChange
from consensus.replica import signing, timers
from consensus.replica.state import CARRY_BUDGET, VC_VIEWS_PER_SENDER, ReplicaState


def start_view_change(st: ReplicaState, new_view: int, out: list[Action]) -> None:
    """Stop normal operation and multicast <VIEW-CHANGE, v+1, n, C, P, i>. As the new
    view's primary with 2f+1 VIEW-CHANGEs already in, the caller then forms it
    (``new_view.change_view`` does both; a step ends with ``new_view.try_new_view``)."""
    if new_view <= st.view:
        return
    assert st.log.stable is not None
    st.view, st.active = new_view, False
    st.proposal_asked = None
    prepared = tuple(p for h, p in sorted(st.log.prepared.items()) if h > st.log.stable.height)
    vc = ViewChange(new_view, st.log.stable, prepared)
    st.vc.sent = vc
    sig = st.vc.sent_sig = signing.sign(st, vc)
    blocks = carry(st, [p.block_hash for p in prepared])
    st.vc.sent_blocks = blocks
    st.vc.mine[new_view] = (vc, sig, blocks)
    for v in sorted(st.vc.mine)[:-VC_VIEWS_PER_SENDER]:
        del st.vc.mine[v]
    st.vc.received.setdefault(new_view, {})[st.config.me] = (SignedViewChange(st.config.me, vc, sig), blocks)
    out.append(Persist(signing.record(st)))
    signing.broadcast(st, vc, sig, out, blocks)
    st.timers.vc_running = False
    timers.arm_view_change_timer(st, out)


def carry(st: ReplicaState, hashes: list[bytes]) -> tuple[bytes, ...]:
    """The bytes of the named blocks we hold, highest height first, within CARRY_BUDGET."""
    held = sorted(
        (d for d in set(hashes) if d in st.log.blocks), key=lambda d: -st.log.block_height.get(d, 0)
    )
    out: list[bytes] = []
    size = 0
    for d in held:
        b = st.log.blocks[d]
        if size + len(b) > CARRY_BUDGET:
            continue
        out.append(b)
        size += len(b)
    return tuple(out)
