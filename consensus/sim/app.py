"""A test application: blocks that chain by hash, carry a validity flag, and a state root
that is a hash chain over executed blocks (so divergence would show at checkpoints)."""

from __future__ import annotations

import struct

from ballot_tx.codec import hash_bytes

_HEAD = struct.Struct(">8s Q 32s H Q B q")
MAGIC = b"simblock"


def make_block(
    height: int, prev_hash: bytes, proposer: int, nonce: int, valid: bool = True, time_ms: int = 0
) -> bytes:
    return _HEAD.pack(MAGIC, height, prev_hash, proposer, nonce, 1 if valid else 0, time_ms)


def parse_block(block: bytes) -> tuple[int, bytes, int, int, bool] | None:
    if len(block) != _HEAD.size:
        return None
    magic, height, prev, proposer, nonce, flag, _time = _HEAD.unpack(block)
    if magic != MAGIC or flag not in (0, 1):
        return None
    return height, prev, proposer, nonce, flag == 1


def block_time(block: bytes) -> int | None:
    """The proposer's timestamp (the simulation's PBTS input)."""
    if len(block) != _HEAD.size:
        return None
    return int(_HEAD.unpack(block)[6])


class SimApp:
    """The ``consensus.events.App`` of the simulation (deterministic, like the real chain)."""

    def __init__(self) -> None:
        self.validate_calls = 0

    def validate(self, height: int, prev_hash: bytes, block: bytes) -> bool:
        self.validate_calls += 1
        parsed = parse_block(block)
        return parsed is not None and parsed[0] == height and parsed[1] == prev_hash and parsed[4]

    def block_hash(self, block: bytes) -> bytes:
        return hash_bytes("sim/block", block)

    def block_time_ms(self, block: bytes) -> int | None:
        return block_time(block)


def next_root(prev_root: bytes, block_hash: bytes) -> bytes:
    return hash_bytes("sim/state", prev_root + block_hash)
