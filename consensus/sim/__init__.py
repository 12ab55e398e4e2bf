"""Deterministic, seeded simulation of a PBFT network: hostile links, Byzantine replicas,
invariants checked after every step. Everything is driven by one ``random.Random(seed)``
and simulated time, so a failing schedule replays exactly from its seed."""
