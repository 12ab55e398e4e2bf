"""The node's own failure: it cannot start or serve as configured.

Its own module so every part of the runtime (process, lifecycle, admission,
supervisor) can raise it without importing the others.
"""

from __future__ import annotations

from ballot_tx.errors import BallotchainError


class NodeError(BallotchainError):
    """The node cannot start or serve as configured."""
