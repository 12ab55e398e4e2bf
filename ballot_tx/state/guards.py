"""The preconditions every transaction handler shares, each refusing with its code:
the signer's genesis role, the election's phase, the signer as a trustee, and a crypto
check's failure turned into the transaction's error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from ballot_tx.manifest import Manifest
from ballot_tx.state.records import PHASE_NAMES, ElectionStatus, Phase


def require_phase(status: ElectionStatus, *phases: Phase) -> None:
    """The election is in one of ``phases``, or TX_WRONG_PHASE naming both."""
    if status.phase not in phases:
        want = " or ".join(PHASE_NAMES[p] for p in phases)
        raise TxError(
            ErrorCode.TX_WRONG_PHASE,
            f"the election is {PHASE_NAMES[Phase(status.phase)]}, this needs it {want}",
        )


def trustee_index(manifest: Manifest, signer: bytes) -> int:
    """1-based trustee index of the signer, or TX_NOT_TRUSTEE."""
    for i, trustee in enumerate(manifest.trustees, start=1):
        if trustee.ed25519_public == signer:
            return i
    raise TxError(ErrorCode.TX_NOT_TRUSTEE, "the signer is not a trustee of this election")


def require_role(keys: frozenset[bytes], signer: bytes, role: str) -> None:
    """The signer holds the genesis ``role`` (its keys), or TX_UNAUTHORIZED."""
    if signer not in keys:
        raise TxError(
            ErrorCode.TX_UNAUTHORIZED, f"only the genesis {role} may sign this transaction"
        )


def crypto_check(code: ErrorCode, fn: Callable[[], Any]) -> Any:
    """Run a crypto check, turning its failure into a transaction error with ``code``."""
    try:
        return fn()
    except BallotchainError as e:
        raise TxError(code, e.message) from None
