"""Signature checks against the genesis validator set, each distinct signature verified once.

Ed25519 verification dominates the CPU cost of consensus: the same PREPARE signature
reaches a replica in the message itself, again inside a VIEW-CHANGE's prepared proof and
again inside the NEW-VIEW that bundles it. ``Verifier`` remembers verdicts keyed by
(validator, kind, body bytes, signature), so each distinct signature costs one libsodium
call per replica. The cache is bounded (cleared when full): a flood of junk can cost CPU
but never memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ballot_tx.codec import Wire, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from ballot_tx.keys import verify
from consensus.messages import VoteSig

CACHE_LIMIT = 50_000
W = TypeVar("W", bound=Wire)


class Verifier:
    """Checks signatures of genesis validators over consensus bodies for one chain."""

    def __init__(self, validator_keys: tuple[bytes, ...], chain_id: bytes) -> None:
        self.keys = validator_keys
        self.chain_id = chain_id
        self.n = len(validator_keys)
        self.f = (self.n - 1) // 3
        self.quorum = 2 * self.f + 1
        self._cache: dict[tuple[int, str, bytes, bytes], bool] = {}
        self.verify_calls = 0

    def valid(self, validator: int, body: Wire, signature: bytes) -> bool:
        """True iff ``signature`` is validator ``validator``'s signature of ``body``."""
        if not 0 <= validator < self.n:
            return False
        kind = type(body).KIND
        key = (validator, kind, encode(body), signature)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        self.verify_calls += 1
        ok = verify(self.keys[validator], kind, self.chain_id, key[2], signature)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = ok
        return ok

    def require(self, validator: int, body: Wire, signature: bytes, what: str) -> None:
        if not 0 <= validator < self.n:
            raise ConsensusError(
                ErrorCode.CONSENSUS_NOT_VALIDATOR, f"{what}: sender {validator} is not a validator"
            )
        if not self.valid(validator, body, signature):
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_SIGNATURE,
                f"{what}: signature of validator {validator} does not verify",
            )

    def require_quorum(
        self,
        sigs: Iterable[VoteSig],
        body_of: Callable[[int], Wire],
        need: int,
        code: ErrorCode,
        what: str,
        exclude: int | None = None,
    ) -> None:
        """Require ``need`` valid signatures from distinct validators (none from ``exclude``).

        A duplicate signer, an unknown index or a bad signature rejects the whole proof:
        honest replicas never build such proofs, so it is evidence of forgery.
        """
        seen: set[int] = set()
        for s in sigs:
            if s.validator in seen:
                raise ConsensusError(code, f"{what}: validator {s.validator} signs twice")
            if s.validator == exclude:
                raise ConsensusError(code, f"{what}: validator {s.validator} may not sign here")
            if not 0 <= s.validator < self.n or not self.valid(
                s.validator, body_of(s.validator), s.signature
            ):
                raise ConsensusError(code, f"{what}: bad signature of validator {s.validator}")
            seen.add(s.validator)
        if len(seen) < need:
            raise ConsensusError(code, f"{what}: {len(seen)} signatures, need {need}")
