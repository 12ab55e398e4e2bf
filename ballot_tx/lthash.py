"""The state root: a homomorphic set hash (LtHash16) over every (key, value) record.

Why this and not a Merkle tree: the state root must commit to the whole state,
be identical on every machine, and cost O(changes) per block however many
voters there are. A sparse Merkle tree does that with 256 hashes per changed
record (~300 us in Python); a balanced tree needs ordered rebalancing. A
homomorphic multiset hash needs no tree at all: the digest of a set is the sum
of the digests of its members, so inserting a record adds its digest, deleting
subtracts it, and changing a value does both, in any order, with the same
result on every machine.

Construction: LtHash (Bellare and Micciancio, "A new paradigm for collision-free
hashing", EUROCRYPT 1997) with the LtHash16 parameters of Lewi, Kim, Maykov and
Weis ("Securing update propagation with homomorphic hashing", 2019): a record
maps to 1024 lanes of 16 bits read from SHAKE-256 output (2048 bytes); the set
digest is the lane-wise sum mod 2^16. Finding two different sets with the same
digest is as hard as a short-integer-solution lattice problem (about 200-bit
security for these parameters). The state root is SHA-256 of the 2048-byte
digest under the ``state-root`` domain. An elliptic-curve multiset hash
(ristretto255) was measured at ~47 us per record update here (a ristretto
add costs a square root), LtHash16 at ~11 us.

The lanes are kept in two Python ints, the even lanes and the odd lanes, each lane in
a 32-bit slot so that adding two digests never carries from one lane into the next;
the mask then reduces every lane mod 2^16 at once. Splitting a SHAKE output into the
two ints is two big-int masks (no byte shuffling: that was as slow as the SHAKE itself).
"""

from __future__ import annotations

import hashlib

from ballot_tx.codec import domain, hash_bytes

LANES = 1024
DIGEST_BYTES = 2 * LANES
_MASK = int.from_bytes(b"\xff\xff\x00\x00" * (LANES // 2), "little")
_BIAS = int.from_bytes(b"\x00\x00\x01\x00" * (LANES // 2), "little")  # 2^16 in every slot
_RECORD_DOMAIN = domain("state-record")


def _split(lanes: bytes) -> tuple[int, int]:
    """(even lanes, odd lanes) of 2048 bytes of little-endian u16 lanes, one per 32-bit slot."""
    v = int.from_bytes(lanes, "little")
    return v & _MASK, (v >> 16) & _MASK


def _join(even: int, odd: int) -> bytes:
    return ((even & _MASK) | ((odd & _MASK) << 16)).to_bytes(DIGEST_BYTES, "little")


def record_digest(key: bytes, value: bytes) -> tuple[int, int]:
    """The lane vector of one record; the key length is framed so (k, v) splits are unique."""
    h = hashlib.shake_256(_RECORD_DOMAIN + len(key).to_bytes(4, "big") + key + value)
    return _split(h.digest(DIGEST_BYTES))


class LtHash:
    """A mutable multiset digest. ``add``/``remove`` cost one SHAKE-256 and two big-int adds."""

    __slots__ = ("_e", "_o")

    def __init__(self, packed: bytes | None = None) -> None:
        if packed is None:
            self._e = self._o = 0
        else:
            if len(packed) != DIGEST_BYTES:
                raise ValueError(f"LtHash digest must be {DIGEST_BYTES} bytes")
            self._e, self._o = _split(packed)

    def copy(self) -> LtHash:
        c = LtHash()
        c._e, c._o = self._e, self._o
        return c

    def add(self, key: bytes, value: bytes) -> None:
        e, o = record_digest(key, value)
        self._e = (self._e + e) & _MASK
        self._o = (self._o + o) & _MASK

    def remove(self, key: bytes, value: bytes) -> None:
        e, o = record_digest(key, value)
        self._e = (self._e + _BIAS - e) & _MASK
        self._o = (self._o + _BIAS - o) & _MASK

    def packed(self) -> bytes:
        """The 2048-byte digest (lanes as little-endian u16), as stored by the node."""
        return _join(self._e, self._o)

    def root(self) -> bytes:
        return hash_bytes("state-root", self.packed())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LtHash) and (self._e, self._o) == (other._e, other._o)

    def __hash__(self) -> int:
        return hash((self._e, self._o))
