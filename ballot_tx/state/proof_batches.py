"""Spreading a block's proof checks over processes (audit, catch-up)."""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.block import Block, tx_hash
from ballot_tx.checks import ballot_key, signature_key
from ballot_tx.codec import decode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.errors import (
    BallotchainError,
    TxError,
)
from ballot_tx.manifest import (
    Manifest,
)
from ballot_tx.state.records import _k
from ballot_tx.state.snapshot import State
from ballot_tx.tx import (
    CastBallot,
    SpoilBallot,
    check_signature,
    decode_tx,
)


@dataclass(frozen=True)
class ProofBatch:
    """Ballot transactions of one block whose proofs can be checked without the state:
    their election was open (joint key fixed) before the block. Plain data, so it can
    be sent to another process."""

    chain_id: bytes
    elections: dict[bytes, tuple[bytes, bytes]]  # election id -> (manifest bytes, joint key)
    txs: tuple[bytes, ...]


def proof_batches(state: State, block: Block, parts: int) -> list[ProofBatch]:
    """Split a block's ballot and spoil transactions into ``parts`` independent batches."""
    elections: dict[bytes, tuple[bytes, bytes]] = {}
    picked: list[bytes] = []
    for raw in block.txs:
        try:
            tx = decode_tx(raw)
        except TxError:
            continue
        body = tx.body
        if not isinstance(body, CastBallot | SpoilBallot):
            continue
        eid = body.election_id
        if eid not in elections:
            st = state.election(eid)
            mbytes = state.get(_k(b"M", eid))
            if st is None or st.joint_key is None or mbytes is None:
                continue
            elections[eid] = (mbytes, st.joint_key)
        picked.append(raw)
    k = max(1, parts)
    return [
        ProofBatch(state.chain.chain_id, elections, tuple(picked[i::k])) for i in range(k) if picked[i::k]
    ]


def verify_batch(batch: ProofBatch) -> list[bytes]:
    """Verdict keys (``checks.signature_key`` and ``checks.ballot_key``) of the batch's
    transactions whose signature and proofs verify, for ``MemoChecker.add`` (the rest
    are left to ``apply_block``, which will name their error)."""
    manifests = {eid: decode(Manifest, mb) for eid, (mb, _) in batch.elections.items()}
    ok = []
    for raw in batch.txs:
        tx = decode_tx(raw)
        body = tx.body
        assert isinstance(body, CastBallot | SpoilBallot)
        m, key = manifests[body.election_id], batch.elections[body.election_id][1]
        try:
            check_signature(tx, batch.chain_id, raw)
            if isinstance(body, CastBallot):
                if body.ballot.election_id != body.election_id:
                    continue
                ballot_crypto.verify_ballot(m, key, tx.signer, body.ballot)
            else:
                ballot_crypto.verify_spoiled(m, key, tx.signer, body.ballot, body.secrets)
        except BallotchainError:
            continue
        h = tx_hash(raw)
        ok += [signature_key(h, batch.chain_id), ballot_key(h, key)]
    return ok
