"""Building blocks for unit tests: a 4-validator sim genesis, signed votes and proofs."""

from __future__ import annotations

from ballot_tx.codec import Wire, encode
from consensus.checkpoint import genesis_checkpoint
from consensus.events import Action, Send
from consensus.messages import (
    Checkpoint,
    CheckpointProof,
    ConsensusMessage,
    Prepare,
    PreparedProof,
    PrePrepare,
    ViewChange,
    VoteSig,
)
from consensus.replica import ReplicaState, init_state
from consensus.sim.app import SimApp, make_block
from consensus.sim.base import sim_key
from consensus.sim.world import sim_genesis
from consensus.verify import Verifier
from genesis.document import Genesis, genesis_hash


class Net:
    """n sim validators: genesis, chain id, verifier, and signing by index."""

    def __init__(self, n: int = 4, interval: int = 2) -> None:
        self.n = n
        self.f = (n - 1) // 3
        self.genesis: Genesis = sim_genesis(n, interval, 200)
        self.chain_id = genesis_hash(self.genesis)
        self.app = SimApp()
        self.verifier = Verifier(tuple(v.ed25519_public for v in self.genesis.validators), self.chain_id)

    def sign(self, i: int, body: Wire) -> bytes:
        return sim_key(i).sign(type(body).KIND, self.chain_id, encode(body))

    def msg(self, i: int, body: Wire, blocks: tuple[bytes, ...] = ()) -> ConsensusMessage:
        return ConsensusMessage(i, body, self.sign(i, body), blocks)  # type: ignore[arg-type]

    def replica(self, i: int) -> ReplicaState:
        return init_state(self.genesis, i, self.chain_id, sim_key(i), self.app)

    def block(self, height: int, prev: bytes | None = None, nonce: int = 0, valid: bool = True) -> bytes:
        return make_block(height, prev if prev is not None else self.chain_id, 0, nonce, valid)

    def digest(self, block: bytes) -> bytes:
        return self.app.block_hash(block)

    def prepared(self, view: int, height: int, d: bytes, preparers: list[int] | None = None) -> PreparedProof:
        primary = view % self.n
        if preparers is None:
            preparers = [i for i in range(self.n) if i != primary][: 2 * self.f]
        return PreparedProof(
            view,
            height,
            d,
            self.sign(primary, PrePrepare(view, height, d)),
            tuple(VoteSig(i, self.sign(i, Prepare(view, height, d))) for i in preparers),
        )

    def checkpoint(self, height: int, d: bytes, root: bytes, signers: list[int] | None = None) -> CheckpointProof:
        if height == 0:
            return genesis_checkpoint(self.chain_id)
        signers = signers if signers is not None else list(range(2 * self.f + 1))
        cp = Checkpoint(height, d, root)
        return CheckpointProof(height, d, root, tuple(VoteSig(i, self.sign(i, cp)) for i in signers))

    def view_change(self, new_view: int, cp: CheckpointProof | None = None, prepared: tuple[PreparedProof, ...] = ()) -> ViewChange:
        return ViewChange(new_view, cp or genesis_checkpoint(self.chain_id), prepared)


def sends(actions: list[Action]) -> list[ConsensusMessage]:
    return [a.message for a in actions if isinstance(a, Send)]
