"""The deterministic state machine: ``apply_block(state, block, checker) -> state``.

One concept per module, lowest first:

=====================  ===============================================================
``records``            the records: key layout, record types, their encodings
``genesis_facts``      what the rules read from genesis (chain id, authority keys)
``snapshot``           ``State``: immutable overlays of one block's writes on a ``Base``
``guards``             the preconditions handlers share (role, phase, trustee, crypto)
``context``            the scratch space one block's (or one check's) execution writes
``ceremony``           the trustees' key ceremony transactions, and who is qualified
``election``           create, open, close, and the auto-close rule
``voting``             register, cast, spoil, cancel an internet vote by a paper vote
``tally``              decryption shares and the published result
``execute``            ``apply_block``, ``check_tx``, ``select_txs``, the header rules
=====================  ===============================================================

Code in this repository imports each name from its module. This package re-exports
the public API below so that code written against the single ``ballot_tx.state``
module it replaced (branches in flight, scripts outside the repository) keeps working.
"""

from ballot_tx.state.execute import apply_block, block_bytes, check_header, check_tx, select_txs
from ballot_tx.state.genesis_facts import GenesisFacts, GenesisView
from ballot_tx.state.records import (
    KEY_OPEN,
    PHASE_NAMES,
    ElectionStatus,
    OpenElections,
    Phase,
    VoterRecord,
    ciphertexts_digest,
)
from ballot_tx.state.snapshot import Base, MemoryBase, State, iter_layers

__all__ = [
    "KEY_OPEN",
    "PHASE_NAMES",
    "Base",
    "GenesisFacts",
    "ElectionStatus",
    "GenesisView",
    "MemoryBase",
    "OpenElections",
    "Phase",
    "State",
    "VoterRecord",
    "apply_block",
    "block_bytes",
    "check_header",
    "check_tx",
    "ciphertexts_digest",
    "iter_layers",
    "select_txs",
]
