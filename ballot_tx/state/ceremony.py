"""The trustees' key ceremony (GJKR, ``crypto/trustees.py``): commit, deal shares,
complain, reveal, acknowledge, and who is qualified once it ends.
"""

from __future__ import annotations

from collections.abc import Callable

from ballot_tx.codec import decode, encode
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import (
    ErrorCode,
)
from ballot_tx.manifest import (
    Manifest,
)
from ballot_tx.state.context import _Exec
from ballot_tx.state.guards import _crypto, _require_phase, _trustee_index, _tx_error
from ballot_tx.state.records import ElectionStatus, Phase, _decode_opt, _i, _k
from ballot_tx.tx import (
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    shares_digest,
)


def _ceremony_step(x: _Exec, tx: Tx, eid: bytes) -> tuple[Manifest, ElectionStatus, int]:
    m = x.manifest(eid)
    i = _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY)
    return m, st, i


def _trustee_commit(x: _Exec, tx: Tx, b: TrusteeCommit) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    key = _k(b"C", b.election_id, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its commitment")
    if b.commitment.index != i:
        raise _tx_error(ErrorCode.TX_BAD_COMMITMENT, f"commitment names trustee {b.commitment.index}, signer is {i}")
    _crypto(ErrorCode.TX_BAD_COMMITMENT, lambda: x.checker.commitment(x.current, m, b.commitment))
    x.put(key, encode(b.commitment))


def _trustee_shares(x: _Exec, tx: Tx, b: TrusteeShares) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    key = _k(b"S", b.election_id, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its shares")
    if x.get(_k(b"C", b.election_id, _i(i))) is None:
        raise _tx_error(ErrorCode.TX_CEREMONY_INCOMPLETE, f"trustee {i} must post its commitment first")
    n = len(m.trustees)
    want = [j for j in range(1, n + 1) if j != i]
    got = [(s.election_id, s.sender, s.recipient) for s in b.shares]
    if got != [(b.election_id, i, j) for j in want]:
        raise _tx_error(
            ErrorCode.TX_BAD_SHARES,
            f"trustee {i} must post one share for each other trustee, in order ({len(want)})",
        )
    x.put(key, encode(b))


def _trustee_complaint(x: _Exec, tx: Tx, b: TrusteeComplaint) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    c = b.complaint
    if c.accuser != i or c.election_id != b.election_id:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"the complaint is not trustee {i}'s in this election")
    j = c.dealer
    if not 1 <= j <= len(m.trustees) or j == i:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {i} cannot complain about trustee {j}")
    key = _k(b"Q", b.election_id, _i(j), _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already complained about {j}")
    if x.get(_k(b"S", b.election_id, _i(j))) is None:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {j} has posted no shares to complain about")
    if x.get(_k(b"K", b.election_id, _i(j), _i(i))) is not None:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {i} already acknowledged trustee {j}'s shares")
    x.put(key, encode(c))


def _trustee_acknowledge(x: _Exec, tx: Tx, b: TrusteeAcknowledge) -> None:
    """Ceremony step 3: recipient ``j`` says each named dealer's shares open and match its
    commitment. The ack names the exact shares it checked (their digest), so it cannot
    be read as vouching for anything else."""
    eid = b.election_id
    _, _, j = _ceremony_step(x, tx, eid)
    if not b.acks:
        raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, "the acknowledgement names no dealer")
    last = 0
    for a in b.acks:
        i = a.dealer
        if i <= last or i == j:
            raise _tx_error(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
                f"dealers must be other trustees, in increasing order; got {i} after {last}",
            )
        last = i
        posted = x.get(_k(b"S", eid, _i(i)))
        if posted is None:
            raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {i} has posted no shares")
        if shares_digest(decode(TrusteeShares, posted)) != a.shares:
            raise _tx_error(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"the acknowledgement is not for trustee {i}'s posted shares"
            )
        if x.get(_k(b"Q", eid, _i(i), _i(j))) is not None:
            raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {j} complained about trustee {i}")
        key = _k(b"K", eid, _i(i), _i(j))
        if x.get(key) is not None:
            raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {j} already acknowledged trustee {i}")
        x.put(key, a.shares)


def _trustee_reveal(x: _Exec, tx: Tx, b: TrusteeReveal) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    r = b.reveal
    if r.dealer != i:
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"the reveal is trustee {r.dealer}'s, the signer is {i}")
    if not 1 <= r.recipient <= len(m.trustees):
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"no trustee {r.recipient}")
    if x.get(_k(b"Q", b.election_id, _i(i), _i(r.recipient))) is None:
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"trustee {r.recipient} has not complained about trustee {i}")
    key = _k(b"A", b.election_id, _i(i), _i(r.recipient))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already answered this complaint")
    com = _decode_opt(trustee_crypto.TrusteeCommitment, x.get(_k(b"C", b.election_id, _i(i))))
    assert com is not None, "shares (and so complaints) need a commitment first"
    _crypto(ErrorCode.TX_BAD_REVEAL, lambda: x.checker.reveal(x.current, m, com, r))
    x.put(key, encode(r))


def qualified_trustees(get: Callable[[bytes], bytes | None], eid: bytes, m: Manifest) -> list[int]:
    """GJKR's qualified set: trustees that posted a (verified) commitment and their shares,
    and answered every complaint against them with a valid reveal."""
    n = len(m.trustees)
    out = []
    for i in range(1, n + 1):
        if get(_k(b"C", eid, _i(i))) is None or (n > 1 and get(_k(b"S", eid, _i(i))) is None):
            continue
        if any(
            get(_k(b"Q", eid, _i(i), _i(j))) is not None and get(_k(b"A", eid, _i(i), _i(j))) is None
            for j in range(1, n + 1)
        ):
            continue
        out.append(i)
    return out


def unacknowledged_pairs(
    get: Callable[[bytes], bytes | None], eid: bytes, q: list[int] | tuple[int, ...]
) -> list[tuple[int, int]]:
    """The (dealer, recipient) pairs of ``q`` where the recipient has not confirmed holding
    a valid share: neither acknowledged it nor had its complaint answered by a reveal (a
    complaint left unanswered already keeps the dealer out of ``q``)."""
    return [
        (i, j)
        for i in q
        for j in q
        if i != j
        and get(_k(b"K", eid, _i(i), _i(j))) is None
        and get(_k(b"A", eid, _i(i), _i(j))) is None
    ]
