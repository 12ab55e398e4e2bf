"""Loopback port choice for localnets and tests."""

from __future__ import annotations

import socket

from node import localnet as ln


def test_free_base_port_avoids_the_ephemeral_range() -> None:
    low = ln._ephemeral_low()
    for _ in range(50):
        base = ln.free_base_port(5)
        assert 20000 <= base and base + 5 <= low
        for p in range(base, base + 5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))  # still free
