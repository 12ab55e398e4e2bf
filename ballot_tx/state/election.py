"""An election's lifecycle: created by the admin, opened with the ceremony's joint
key, closed by the admin or by the auto-close rule when its voting window ends.
"""

from __future__ import annotations

from dataclasses import replace

from ballot_tx.codec import encode
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.crypto.group import IDENTITY
from ballot_tx.errors import (
    ErrorCode,
)
from ballot_tx.manifest import (
    election_id,
    validate_manifest,
    voting_over,
)
from ballot_tx.state.ceremony import qualified_trustees, unacknowledged_pairs
from ballot_tx.state.context import _Exec
from ballot_tx.state.guards import _crypto, _require, _require_phase, _tx_error
from ballot_tx.state.records import ElectionStatus, Phase, _commitments, _k
from ballot_tx.tx import (
    CloseElection,
    CreateElection,
    OpenElection,
    Tx,
)


def _create(x: _Exec, tx: Tx, b: CreateElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    m = b.manifest
    _crypto(ErrorCode.TX_BAD_MANIFEST, lambda: validate_manifest(m))
    if voting_over(m, x.t):
        raise _tx_error(ErrorCode.TX_BAD_MANIFEST, "the manifest's voting window has already ended")
    eid = election_id(m)
    if x.get(_k(b"M", eid)) is not None:
        raise _tx_error(ErrorCode.TX_ELECTION_EXISTS, f"election {eid.hex()[:16]} already exists")
    x.put(_k(b"M", eid), encode(m))
    x.set_status(eid, ElectionStatus(int(Phase.CEREMONY), None, (), None, 0, 0, 0, 0, None))
    x.set_obj(_k(b"T", eid), tally_crypto.empty_tally(m))


def _open(x: _Exec, tx: Tx, b: OpenElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY)
    if voting_over(m, x.t):
        raise _tx_error(ErrorCode.TX_OUTSIDE_WINDOW, "the voting window has already ended")
    if list(b.exclude) != sorted(set(b.exclude)) or not all(1 <= i <= len(m.trustees) for i in b.exclude):
        raise _tx_error(ErrorCode.TX_BAD_EXCLUSION, "exclude must list trustee indices, each once, in order")
    q = [i for i in qualified_trustees(x.get, eid, m) if i not in b.exclude]
    if len(q) < m.threshold:
        raise _tx_error(
            ErrorCode.TX_CEREMONY_INCOMPLETE,
            f"{len(q)} trustees have completed the ceremony, the threshold is {m.threshold}",
        )
    missing = unacknowledged_pairs(x.get, eid, q)
    if missing:
        i, j = missing[0]
        raise _tx_error(
            ErrorCode.TX_CEREMONY_UNACKNOWLEDGED,
            f"trustee {j} has not acknowledged trustee {i}'s shares ({len(missing)} pair(s) open)",
        )
    key = trustee_crypto.joint_key(_commitments(x.get, eid, q))
    if key == IDENTITY:
        raise _tx_error(ErrorCode.TX_JOINT_KEY_IDENTITY, "the joint key would be the identity: nothing is secret")
    x.set_status(eid, replace(st, phase=int(Phase.OPEN), joint_key=key, qualified=tuple(q)))
    x.set_open_ids((*x.open_ids(), eid))


def _close(x: _Exec, tx: Tx, b: CloseElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    st = x.status(b.election_id)
    _require_phase(st, Phase.OPEN)
    _close_now(x, b.election_id, st)


def _close_now(x: _Exec, eid: bytes, st: ElectionStatus) -> None:
    x.set_status(eid, replace(st, phase=int(Phase.CLOSED), closed_ms=x.t))
    x.set_open_ids(tuple(i for i in x.open_ids() if i != eid))


def _auto_close(x: _Exec) -> None:
    for eid in x.open_ids():
        if voting_over(x.manifest(eid), x.t):
            _close_now(x, eid, x.status(eid))
