"""The PBFT replica as a step function: ``step(state, event) -> (state, actions)``.

Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI'99 (section numbers below
refer to it; the TOCS 2002 paper's BFT-PK algorithm is the same). Sequence number n is
the block height, digest d the block hash, one block per height.

One module per section of the paper, each calling only the modules below it (the
``replica`` contract of ``.importlinter`` keeps it so):

* ``entry`` -- ``init_state``, ``step``, routing each event and message to its section,
  the start-up and timer-expiry rules;
* ``catch_up`` -- committing certified blocks fetched when f+1 replicas are ahead;
* ``new_view`` -- §4.4-4.5.2 after leaving a view: the others' VIEW-CHANGEs (joining on
  f+1), NEW-VIEW, entering the new view (which runs the normal case again);
* ``normal_case`` -- §4.2: pre-prepare (``accept_pre_prepare`` lists the paper's
  conditions), prepare, commit, in height order, and messages held for a later view;
* ``view_sync`` -- after §4.5.2: bringing back a replica left alone in a higher view after
  a fault heals, by moving the others *up* to it, never it down (the decisions; the
  entry sends the VIEW-CHANGE);
* ``checkpoints`` -- §4.3: checkpoints, stable checkpoint, water marks, garbage collection;
* ``view_change`` -- §4.4: leaving a view (our VIEW-CHANGE), which any rule may start;
* ``fetching`` -- noticing we are behind and asking for certified blocks;
* ``signing`` (vote -> sign -> persist -> send, and the durable ``record``) and
  ``timers`` (the view timer, which counts only while waiting for a request, §4.4);
* ``state`` -- ``ReplicaState``, one part per concern, and the constants.

The paper's rules are mutually recursive in two places, and both hand the step back
instead of calling up: an invalid proposal (§4.2) leaves the view with ``view_change``
and ``step`` then forms the new view if it can (``new_view.try_new_view``); view sync
names the view to move to and ``step`` moves.

The state is a plain mutable object owned by the caller: ``step`` updates it in place and
returns it with the actions. There is no I/O, clock or randomness: signatures are
deterministic Ed25519. Bad input never raises: it is counted in ``state.stats.rejected``
by error code and otherwise ignored (no state change).
"""

from __future__ import annotations

from consensus.events import SafetyRecord
from consensus.replica.entry import init_state, step
from consensus.replica.signing import record
from consensus.replica.state import (
    CARRY_BUDGET,
    FETCH_TIMER,
    FUTURE_VIEWS,
    HOLD_PER_SENDER,
    MAX_BACKOFF,
    SYNC_AFTER_TIMEOUTS,
    VIEW_TIMER,
    CatchUp,
    Config,
    Log,
    ReplicaState,
    Slot,
    Stats,
    Timers,
    ViewChangeState,
    ViewSync,
)

__all__ = [
    "CARRY_BUDGET",
    "FETCH_TIMER",
    "FUTURE_VIEWS",
    "HOLD_PER_SENDER",
    "MAX_BACKOFF",
    "SYNC_AFTER_TIMEOUTS",
    "VIEW_TIMER",
    "CatchUp",
    "Config",
    "Log",
    "ReplicaState",
    "SafetyRecord",
    "Slot",
    "Stats",
    "Timers",
    "ViewChangeState",
    "ViewSync",
    "init_state",
    "record",
    "step",
]
