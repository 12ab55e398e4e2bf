"""Signing and the durable record: every vote goes vote -> sign -> persist -> send
(``cast``), so a restarted replica never signs a value conflicting with one it sent."""

from __future__ import annotations

import nacl.bindings as sodium

from ballot_tx.codec import Wire, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from ballot_tx.keys import signing_bytes
from consensus.events import Action, Persist, SafetyRecord, SafetyVote, Send
from consensus.messages import Commit, ConsensusMessage, Prepare, PrePrepare
from consensus.replica.state import ReplicaState


def sign(st: ReplicaState, body: Wire) -> bytes:
    """``KeyPair.sign`` with the expanded secret key kept (one libsodium call per signature)."""
    st.stats.signatures += 1
    msg = signing_bytes(type(body).KIND, st.config.chain_id, encode(body))
    sig: bytes = sodium.crypto_sign(msg, st.config.secret)[:64]
    return sig


def vote(st: ReplicaState, phase: int, view: int, height: int, digest: bytes) -> None:
    """Record a vote about to be signed; refuse if it conflicts with one already signed."""
    key = (phase, view, height)
    prior = st.log.votes.get(key)
    if prior is not None and prior != digest:
        raise ConsensusError(
            ErrorCode.CONSENSUS_CONFLICT,
            f"already signed another digest in phase {phase} of view {view} height {height}",
        )
    st.log.votes[key] = digest


def cast(
    st: ReplicaState,
    phase: int,
    body: PrePrepare | Prepare | Commit,
    out: list[Action],
    blocks: tuple[bytes, ...] = (),
) -> bytes:
    """Vote, sign, persist, send: the order every PBFT vote must follow. The vote is
    recorded (refused if it conflicts) before the signature exists, and the signed
    record is durable (``Persist``) before the signed message can leave (``Send``), so a
    restart never forgets a vote a peer holds. Returns the signature."""
    vote(st, phase, body.view, body.height, body.block_hash)
    sig = sign(st, body)
    out.append(Persist(record(st)))
    broadcast(st, body, sig, out, blocks)
    return sig


def record(st: ReplicaState) -> SafetyRecord:
    """The durable record of everything this replica has signed that still matters."""
    assert st.log.stable is not None
    low = st.log.stable.height
    return SafetyRecord(
        chain_id=st.config.chain_id,
        validator=st.config.me,
        view=st.view,
        view_active=st.active,
        checkpoint=st.log.stable,
        prepared=tuple(p for h, p in sorted(st.log.prepared.items()) if h > low),
        votes=tuple(
            SafetyVote(ph, v, h, d) for (ph, v, h), d in sorted(st.log.votes.items()) if h > low
        ),
        view_change=st.vc.sent,
        earlier_view_changes=tuple(
            vc for v, (vc, _, _) in sorted(st.vc.mine.items()) if st.vc.sent is None or v != st.vc.sent.new_view
        ),
        blocks=tuple(
            st.log.blocks[p.block_hash]
            for h, p in sorted(st.log.prepared.items())
            if h > st.log.last_committed and p.block_hash in st.log.blocks
        ),
    )


def broadcast(
    st: ReplicaState, body: Wire, sig: bytes, out: list[Action], blocks: tuple[bytes, ...] = ()
) -> ConsensusMessage:
    msg = ConsensusMessage(st.config.me, body, sig, blocks)  # type: ignore[arg-type]
    out.append(Send(msg))
    return msg
