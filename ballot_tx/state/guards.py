"""The preconditions every transaction handler shares, each refusing with its code:
the signer's genesis role, the election's phase, the signer as a trustee, and a crypto
check's failure turned into the transaction's error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ballot_tx.errors import (
    BallotchainError,
    ErrorCode,
    TxError,
)
from ballot_tx.manifest import (
    Manifest,
)
from ballot_tx.state.records import PHASE_NAMES, ElectionStatus, Phase


def _tx_error(code: ErrorCode, msg: str) -> TxError:
    return TxError(code, msg)


def _require_phase(st: ElectionStatus, *phases: Phase) -> None:
    if st.phase not in phases:
        want = " or ".join(PHASE_NAMES[p] for p in phases)
        raise _tx_error(
            ErrorCode.TX_WRONG_PHASE,
            f"the election is {PHASE_NAMES[Phase(st.phase)]}, this needs it {want}",
        )


def _trustee_index(m: Manifest, signer: bytes) -> int:
    """1-based trustee index of the signer, or TX_NOT_TRUSTEE."""
    for i, t in enumerate(m.trustees, start=1):
        if t.ed25519_public == signer:
            return i
    raise _tx_error(ErrorCode.TX_NOT_TRUSTEE, "the signer is not a trustee of this election")


def _require(keys: frozenset[bytes], signer: bytes, role: str) -> None:
    if signer not in keys:
        raise _tx_error(ErrorCode.TX_UNAUTHORIZED, f"only the genesis {role} may sign this transaction")


def _crypto(code: ErrorCode, fn: Callable[[], Any]) -> Any:
    """Run a crypto check, turning its failure into a transaction error with ``code``."""
    try:
        return fn()
    except BallotchainError as e:
        raise _tx_error(code, e.message) from None
