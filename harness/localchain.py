"""An in-process chain: the same blocks, certificates and stores as a network, no sockets.

Validators take turns proposing (round robin by height), each block is applied
on every node's own state and committed into its own LevelDB with a commit
certificate signed by a quorum of the validators' keys (view 0: nothing in a
single process ever needs a view change). Used by ``ballotchain demo``, the
whole-election tests and ``scripts/bench_apply``; the networked runtime does the
same steps with PBFT between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ballot_tx.block import Block, make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import encode
from ballot_tx.errors import TxError
from ballot_tx.keys import KeyPair
from ballot_tx.state.execute import apply_block, check_tx, select_txs
from ballot_tx.state.snapshot import State
from ballot_tx.tx import Tx
from genesis.document import Genesis, genesis_hash
from node.store import Store


def certificate_maker() -> Callable[[Genesis, list[KeyPair], int, bytes], bytes] | None:
    """Signs commit certificates with the consensus module's format, if it is installed."""
    try:
        from consensus.certificate import CommitCertificate
        from consensus.messages import Commit, VoteSig
    except ImportError:
        return None

    def make(genesis: Genesis, keys: list[KeyPair], height: int, block_hash: bytes) -> bytes:
        chain_id = genesis_hash(genesis)
        body = Commit(0, height, block_hash)
        sigs = []
        for kp in keys:
            idx = genesis.validator_index(kp.ed25519_public)
            if idx is not None:
                sigs.append(VoteSig(idx, kp.sign(Commit.KIND, chain_id, encode(body))))
            if len(sigs) == genesis.quorum:
                break
        sigs.sort(key=lambda s: s.validator)
        return encode(CommitCertificate(height, 0, block_hash, tuple(sigs)))

    return make


@dataclass
class LocalChain:
    """Blocks made from submitted transactions, committed to every node's store."""

    genesis: Genesis
    validator_keys: list[KeyPair]
    stores: list[Store] = field(default_factory=list)
    clock: Callable[[], int] | None = None  # block time source (ms); default: prev + interval

    def __post_init__(self) -> None:
        self.chain_id = genesis_hash(self.genesis)
        self.checker = MemoChecker()
        self.states: list[State] = (
            [s.state() for s in self.stores] if self.stores else [State.initial(self.genesis)]
        )
        self.pending: list[bytes] = []
        self.rejected: list[tuple[bytes, TxError]] = []  # dropped by the proposer
        self.blocks: list[Block] = []
        self.certificates: list[bytes | None] = []
        self._make_cert = certificate_maker()

    @property
    def state(self) -> State:
        return self.states[0]

    def next_time(self) -> int:
        prev = self.state.time_ms
        t = self.clock() if self.clock else prev + self.genesis.params.block_interval_ms
        return max(t, prev + 1) if self.state.height else max(t, prev)

    def submit(self, tx: Tx) -> bytes:
        """Admit a transaction as a mempool would (full check, verdict cached)."""
        raw = encode(tx)
        h = check_tx(self.state, raw, self.next_time(), self.checker)
        self.pending.append(raw)
        return h

    def produce(self) -> Block | None:
        """Make, certify, apply and commit one block from the pending transactions."""
        if not self.pending:
            return None
        st = self.state
        t = self.next_time()
        txs, rejected = select_txs(st, self.pending, t, self.checker)
        self.rejected += [(self.pending[i], e) for i, e in rejected]
        done = len(txs) + len(rejected)
        self.pending = self.pending[done:] if done < len(self.pending) else []
        if not txs:
            return None
        proposer = self.genesis.validators[st.height % self.genesis.n].ed25519_public
        block = make_block(st.height + 1, st.block_hash, t, proposer, st.root, txs)
        self.commit(block)
        return block

    def commit(self, block: Block) -> None:
        cert = None
        if self._make_cert is not None:
            cert = self._make_cert(self.genesis, self.validator_keys, block.height, block.hash)
        new_states = []
        for i, st in enumerate(self.states):
            new = apply_block(st, block, self.checker)
            if self.stores:
                new = self.stores[i].commit(block, new, cert)
            new_states.append(new)
        self.states = new_states
        self.blocks.append(block)
        self.certificates.append(cert)

    def run(self, txs: list[Tx]) -> list[bytes]:
        """Submit and include ``txs`` (as many blocks as needed); returns their hashes."""
        hashes = []
        for tx in txs:
            if len(self.pending) >= self.genesis.params.max_block_txs:
                self.produce()
            hashes.append(self.submit(tx))
        while self.pending:
            self.produce()
        if self.rejected:
            raw, e = self.rejected[0]
            raise e
        return hashes


def open_stores(paths: list[Path], genesis: Genesis) -> list[Store]:
    return [Store(p, genesis) for p in paths]
