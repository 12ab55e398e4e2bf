"""Checkpoints, stable checkpoints and watermarks (Castro & Liskov, OSDI'99 §4.3).

A replica that has executed height n with n mod K == 0 (K = genesis
``params.checkpoint_interval``) multicasts ``<CHECKPOINT, n, d, i>`` where d is the state
digest: here the block hash and the application's state root after executing n. When it
holds 2f+1 matching CHECKPOINT messages from distinct replicas (possibly including its
own) the checkpoint is *stable* and that set is its proof. The low water mark h is the
stable checkpoint's height and the high water mark H = h + L with L = 2K ("k is big
enough so that replicas do not stall waiting for a checkpoint to become stable"); a
replica accepts PRE-PREPARE/PREPARE/COMMIT only for h < n <= H and discards everything
at or below h (garbage collection).
"""

from __future__ import annotations

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.messages import NULL_HASH, Checkpoint, CheckpointProof, VoteSig
from consensus.verify import Verifier


def genesis_checkpoint(chain_id: bytes) -> CheckpointProof:
    """The stable checkpoint every replica starts from: height 0, no signatures needed."""
    return CheckpointProof(0, chain_id, NULL_HASH, ())


def check_checkpoint_proof(verifier: Verifier, proof: CheckpointProof) -> None:
    """C of a VIEW-CHANGE (§4.4): 2f+1 distinct valid signatures over one checkpoint."""
    if proof.height == 0:
        if proof != genesis_checkpoint(verifier.chain_id):
            raise ConsensusError(
                ErrorCode.CONSENSUS_BAD_CHECKPOINT, "height-0 checkpoint is not the genesis one"
            )
        return
    body = proof.body()
    verifier.require_quorum(
        proof.sigs,
        lambda _i: body,
        verifier.quorum,
        ErrorCode.CONSENSUS_BAD_CHECKPOINT,
        f"checkpoint proof for height {proof.height}",
    )


def high_watermark(low: int, interval: int) -> int:
    """H = h + L with L = 2K (§4.3)."""
    return low + 2 * interval


class CheckpointLog:
    """CHECKPOINT messages above the stable checkpoint, grouped by what they attest.

    Bounded per sender: one checkpoint per (sender, height), first one wins, and the
    replica only admits heights that are multiples of K inside its window, so a sender
    holds at most a handful of entries and each message costs the same whatever a
    Byzantine validator sent before (it could otherwise sign endless distinct digests).
    """

    def __init__(self) -> None:
        self.votes: dict[Checkpoint, dict[int, bytes]] = {}
        self.by_sender: dict[int, dict[int, Checkpoint]] = {}

    def add(self, sender: int, cp: Checkpoint, signature: bytes) -> None:
        mine = self.by_sender.setdefault(sender, {})
        prior = mine.get(cp.height)
        if prior is not None:
            if prior != cp:
                raise ConsensusError(
                    ErrorCode.CONSENSUS_CONFLICT,
                    f"validator {sender} already attested another state at height {cp.height}",
                )
            return
        mine[cp.height] = cp
        self.votes.setdefault(cp, {})[sender] = signature

    def proof(self, cp: Checkpoint, quorum: int) -> CheckpointProof | None:
        """The stability proof for ``cp`` if 2f+1 distinct replicas attest it."""
        sigs = self.votes.get(cp, {})
        if len(sigs) < quorum:
            return None
        chosen = sorted(sigs.items())[:quorum]
        return CheckpointProof(
            cp.height, cp.block_hash, cp.state_root, tuple(VoteSig(i, s) for i, s in chosen)
        )

    def quorum_above(self, height: int, quorum: int) -> list[Checkpoint]:
        """Checkpoints above ``height`` attested by 2f+1 replicas, lowest first."""
        return sorted(
            (cp for cp, s in self.votes.items() if cp.height > height and len(s) >= quorum),
            key=lambda c: c.height,
        )

    def collect_garbage(self, stable_height: int) -> None:
        self.votes = {cp: s for cp, s in self.votes.items() if cp.height > stable_height}
        self.by_sender = {
            i: {h: cp for h, cp in hs.items() if h > stable_height} for i, hs in self.by_sender.items()
        }
