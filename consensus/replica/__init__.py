"""The PBFT replica as a step function: ``step(state, event) -> (state, actions)``.

Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI'99 (section numbers below
refer to it; the TOCS 2002 paper's BFT-PK algorithm is the same). Sequence number n is
the block height, digest d the block hash, one block per height.

One module per section of the paper:

* ``normal_case`` -- §4.2: pre-prepare (``accept_pre_prepare`` lists the paper's
  conditions), prepare, commit, in height order;
* ``checkpoints`` -- §4.3: checkpoints, stable checkpoint, water marks, garbage collection;
* ``view_change`` -- §4.4 with the liveness rules of §4.5.2;
* ``view_sync`` -- after §4.5.2: bringing back a replica left alone in a higher view after
  a fault heals, by moving the others *up* to it, never it down;
* ``catch_up`` -- fetching certified blocks when f+1 replicas are ahead;

and around them ``state`` (``ReplicaState``, one part per concern, and the constants),
``signing`` (vote -> sign -> persist -> send, and the durable ``record``), ``timers``
and ``entry`` (``init_state``, ``step``, routing events and messages to their section).
The paper's rules call each other (a commit lets the next height prepare, a view change
re-runs the normal case), so the sections import each other as modules and call through
them (``normal_case.try_prepare``): a cycle among the modules of one algorithm, resolved
at call time.

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
