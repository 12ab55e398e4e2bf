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
from ballot_tx.state.records import PHASE_NAMES, Phase
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
    block = store.get_block(height)
    if block is None:
        return None
    cert = store.get_certificate(height)
    return {
        "height": block.height,
        "hash": block.hash.hex(),
        "header": to_json_value(block.header),
        "tx_hashes": [h.hex() for h in block.tx_hashes()],
        "certificate": _cert_json(cert),
        "block_bytes": encode(block).hex(),
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
    status = state.election(eid)
    m = state.manifest(eid)
    if status is None or m is None:
        return None
    tally = state.tally(eid)
    return {
        "election_id": eid.hex(),
        "phase": PHASE_NAMES.get(Phase(status.phase), str(status.phase)),
        "status": to_json_value(status),
        "status_bytes": encode(status).hex(),
        "manifest": to_json_value(m),
        "manifest_bytes": encode(m).hex(),
        "tally_bytes": None if tally is None else encode(tally).hex(),
        "as_of_height": state.height,
    }


def voter_view(state: State, eid: bytes, key: bytes) -> dict[str, Any] | None:
    """Whether a voting key (a mailed code's or a registered one) may still vote: public on
    the chain already, and what lets the page refuse a used code before the ballot."""
    voter = state.voter(eid, key)
    if voter is None:
        return None
    return {"election_id": eid.hex(), "voter": key.hex(), "single_use": voter.single_use,
            "ballots": voter.ballots, "counted": None if voter.counted is None else voter.counted.hex(),
            "as_of_height": state.height}


def result_view(state: State, eid: bytes) -> dict[str, Any] | None:
    result = state.result(eid)
    if result is None:
        return None
    return {
        "election_id": eid.hex(),
        "result": to_json_value(result),
        "result_bytes": encode(result).hex(),
        "as_of_height": state.height,
    }
