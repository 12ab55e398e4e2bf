"""JSON views of chain data for the client API, read from the store and the tip state.

Binary values are hex; wire objects are shown field by field (tagged variants
with a ``type``). Where a client must verify something itself (a receipt), the
view also carries the canonical bytes (hex) it needs, so a client never has to
trust the JSON rendering.
"""

from __future__ import annotations

from typing import Any

from ballot_tx.block import Block, InclusionProof, merkle_proof
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BallotchainError
from ballot_tx.jsonview import to_json_value
from ballot_tx.manifest import voting_over
from ballot_tx.state.records import KEY_OPEN, PHASE_NAMES, OpenElections, Phase
from ballot_tx.state.snapshot import State
from ballot_tx.tx import CastBallot, decode_tx
from consensus.certificate import CommitCertificate
from node.store import Store


def tx_json(raw: bytes) -> Any:
    try:
        return to_json_value(decode_tx(raw))
    except BallotchainError:
        return None


def _cert_json(cert: bytes | None) -> Any:
    if cert is None:
        return None
    try:
        return to_json_value(decode(CommitCertificate, cert))
    except BallotchainError:
        return None


def block_view(store: Store, height: int) -> dict[str, Any] | None:
    b = store.get_block(height)
    if b is None:
        return None
    cert = store.get_certificate(height)
    return {
        "height": b.height,
        "hash": b.hash.hex(),
        "header": to_json_value(b.header),
        "tx_hashes": [h.hex() for h in b.tx_hashes()],
        "certificate": _cert_json(cert),
        "block_bytes": encode(b).hex(),
        "certificate_bytes": None if cert is None else cert.hex(),
    }


def tx_view(store: Store, h: bytes) -> dict[str, Any] | None:
    found = store.get_tx(h)
    if found is None:
        return None
    raw, height, index = found
    return {
        "tracking_code": h.hex(),
        "status": "committed",
        "height": height,
        "index": index,
        "tx": tx_json(raw),
        "tx_bytes": raw.hex(),
    }


def inclusion_proof(block: Block, index: int) -> InclusionProof:
    hashes = block.tx_hashes()
    return InclusionProof(block.header, hashes[index], merkle_proof(hashes, index))


def receipt_view(store: Store, h: bytes) -> dict[str, Any] | None:
    """What a voter's client needs to check inclusion itself: Merkle path, header, certificate."""
    where = store.find_tx(h)
    if where is None:
        return None
    height, index = where
    block = store.block(height)
    proof = inclusion_proof(block, index)
    cert = store.get_certificate(height)
    return {
        "tracking_code": h.hex(),
        "height": height,
        "index": index,
        "block_hash": block.hash.hex(),
        "inclusion_proof": to_json_value(proof),
        "inclusion_proof_bytes": encode(proof).hex(),
        "certificate": _cert_json(cert),
        "certificate_bytes": None if cert is None else cert.hex(),
    }


def ballot_cancelled(state: State, store: Store, h: bytes) -> bool:
    """True if ``h`` is a cast ballot whose voter later voted on paper (CancelInternetVote)."""
    found = store.get_tx(h)
    if found is None:
        return False
    try:
        tx = decode_tx(found[0])
    except BallotchainError:
        return False
    if not isinstance(tx.body, CastBallot):
        return False
    voter = state.voter(tx.body.election_id, tx.signer)
    return voter is not None and voter.cancelled


def election_view(state: State, eid: bytes) -> dict[str, Any] | None:
    st = state.election(eid)
    m = state.manifest(eid)
    if st is None or m is None:
        return None
    tally = state.tally(eid)
    return {
        "election_id": eid.hex(),
        "phase": PHASE_NAMES.get(Phase(st.phase), str(st.phase)),
        "status": to_json_value(st),
        "status_bytes": encode(st).hex(),
        "manifest": to_json_value(m),
        "manifest_bytes": encode(m).hex(),
        "tally_bytes": None if tally is None else encode(tally).hex(),
        "as_of_height": state.height,
    }


def voter_view(state: State, eid: bytes, key: bytes) -> dict[str, Any] | None:
    """Whether a voting key (a mailed code's or a registered one) may still vote: public on
    the chain already, and what lets the page refuse a used code before the ballot."""
    v = state.voter(eid, key)
    if v is None:
        return None
    return {"election_id": eid.hex(), "voter": key.hex(), "single_use": v.single_use,
            "ballots": v.ballots, "counted": None if v.counted is None else v.counted.hex(),
            "as_of_height": state.height}


def result_view(state: State, eid: bytes) -> dict[str, Any] | None:
    r = state.result(eid)
    if r is None:
        return None
    return {
        "election_id": eid.hex(),
        "result": to_json_value(r),
        "result_bytes": encode(r).hex(),
        "as_of_height": state.height,
    }


def phase_change_due(state: State, now_ms: int) -> bool:
    """True if a block at ``now_ms`` would close an election whose end time has passed."""
    raw = state.get(KEY_OPEN)
    if raw is None:
        return False
    for eid in decode(OpenElections, raw).ids:
        m = state.manifest(eid)
        if m is not None and voting_over(m, now_ms):
            return True
    return False
