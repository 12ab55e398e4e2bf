"""The refusal the registrar service answers with: its own type, so the HTTP layer can tell
a request it refused (nothing sent to the chain) from a chain refusal (``TxError``)."""

from __future__ import annotations

from ballot_tx.errors import BallotchainError


class RegistrarError(BallotchainError):
    """A registration request the service refuses (nothing was sent to the chain)."""

