"""After the close: the trustees' decryption shares of the running tally, and the
published result, checked against them.
"""

from __future__ import annotations

from dataclasses import replace

from ballot_tx.codec import encode
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.errors import (
    ErrorCode,
)
from ballot_tx.state.context import _Exec
from ballot_tx.state.guards import _crypto, _require_phase, _trustee_index, _tx_error
from ballot_tx.state.records import Phase, _commitments, _decode_opt, _i, _k
from ballot_tx.tx import (
    PostDecryptionShare,
    PublishResult,
    Tx,
)


def _decryption_share(x: _Exec, tx: Tx, b: PostDecryptionShare) -> None:
    eid = b.election_id
    m = x.manifest(eid)
    i = _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CLOSED)
    if b.share.trustee != i:
        raise _tx_error(ErrorCode.TX_BAD_DECRYPTION_SHARE, f"share names trustee {b.share.trustee}, signer is {i}")
    key = _k(b"D", eid, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_SHARE_DUPLICATE, f"trustee {i} already posted its decryption share")
    tally = x.obj(tally_crypto.EncryptedTally, _k(b"T", eid))
    assert tally is not None
    coms = _commitments(x.get, eid, st.qualified)
    _crypto(
        ErrorCode.TX_BAD_DECRYPTION_SHARE,
        lambda: x.checker.decryption_share(x.current, m, coms, tally, b.share),
    )
    x.put(key, encode(b.share))


def _publish(x: _Exec, tx: Tx, b: PublishResult) -> None:
    eid = b.election_id
    m = x.manifest(eid)
    if tx.signer not in x.chain.admins:
        _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CLOSED)
    shares = []
    for i in range(1, len(m.trustees) + 1):
        s = _decode_opt(tally_crypto.DecryptionShare, x.get(_k(b"D", eid, _i(i))))
        if s is not None:
            shares.append(s)
    tally = x.obj(tally_crypto.EncryptedTally, _k(b"T", eid))
    assert tally is not None
    coms = _commitments(x.get, eid, st.qualified)
    _crypto(
        ErrorCode.TX_BAD_RESULT,
        lambda: x.checker.result(x.current, m, coms, tally, shares, b.result),
    )
    x.put(_k(b"R", eid), encode(b.result))
    x.set_status(eid, replace(st, phase=int(Phase.DECIDED)))
