"""What the simulated world, its adversaries and its invariants share.

The world (``world.py``) runs the adversaries (``byzantine.py``) and checks the
invariants (``invariants.py``); these two need the simulation's keys and its failure
type, which live here so that neither imports the world at run time (the world's types
appear in their signatures only under ``TYPE_CHECKING``): no import cycle.
"""

from __future__ import annotations

from ballot_tx.keys import KeyPair

__all__ = ["InvariantViolation", "sim_key"]


class InvariantViolation(AssertionError):
    """A simulated run broke a protocol invariant (safety, liveness bound, persistence order...)."""


_KEYS: dict[int, KeyPair] = {}


def sim_key(i: int) -> KeyPair:
    """Replica ``i``'s key in every simulation (deterministic, so runs replay exactly)."""
    k = _KEYS.get(i)
    if k is None:
        k = _KEYS[i] = KeyPair.from_seed(i.to_bytes(4, "big") * 8)
    return k
