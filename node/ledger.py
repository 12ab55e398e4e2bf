"""The node's chain: the store, the state at its tip, and the verify-once cache.

This is where consensus meets the ballot state machine. Consensus sees blocks as
opaque bytes and asks two questions (the ``consensus.events.App`` protocol):
``validate`` (is this a valid block on top of our block height-1?) and
``block_hash``. Validation *is* execution: the block is applied to the tip
state, and the resulting state is kept, so the commit that usually follows
costs one synced WriteBatch and no second execution. Ballot proofs checked by
the mempool are in ``cache`` (keyed by transaction hash) and are not checked
again; the ones a block brings that this node has not seen are checked once,
here.

Verdicts are memoised by ``ballot_tx.checks.MemoChecker`` under keys naming every
input of each check (so a verdict reached on a proposal that is later abandoned is
reused only where it still holds). ``validate`` reads no clock: block-time
timeliness is consensus' rule (``consensus.timeliness``).

Observers and catching-up validators use ``commit_certified``: the certificate
is checked from the genesis alone, then the block is re-executed all the same
(a certificate proves agreement, re-execution proves the state root).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial

from ballot_tx.block import Block, make_block, tx_hash
from ballot_tx.checks import Checker, MemoChecker, signature_key
from ballot_tx.codec import decode, encode
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.state.execute import apply_block, check_tx, select_txs
from ballot_tx.state.snapshot import State
from ballot_tx.tx import decode_tx
from consensus.certificate import CommitCertificate, verify_certificate
from genesis.document import Genesis
from node import logs
from node.disk_thread import DiskThread
from node.store import StagedCommit, Store
from node.verify_work import open_elections

log = logs.get("ledger")

_DECODED_MAX = 32
_EXECUTED_MAX = 16


class LedgerError(BallotchainError):
    """A block or certificate from a peer that this node will not commit."""


class Ledger:
    def __init__(self, store: Store, genesis: Genesis, chain_id: bytes) -> None:
        self.store = store
        self.genesis = genesis
        self.chain_id = chain_id
        self.state: State = store.state()
        self.checker = MemoChecker()
        self._decoded: OrderedDict[bytes, Block] = OrderedDict()
        self._executed: OrderedDict[bytes, State] = OrderedDict()
        self._open: tuple[bytes, dict[bytes, tuple[bytes, bytes]]] = (b"", {})

    # --- tip ------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return self.state.height

    def tip_hash(self) -> bytes:
        """Hash of the tip block (the chain id before block 1, as consensus expects)."""
        return self.state.block_hash

    def tip_time_ms(self) -> int:
        return self.state.time_ms

    # --- consensus App ------------------------------------------------------------

    def decode_block(self, raw: bytes) -> Block:
        b = self._decoded.get(raw)
        if b is None:
            b = decode(Block, raw)
            self._decoded[raw] = b
            while len(self._decoded) > _DECODED_MAX:
                self._decoded.popitem(last=False)
        return b

    def block_hash(self, block: bytes) -> bytes:
        try:
            return self.decode_block(block).hash
        except BallotchainError:
            return b"\x00" * 32  # matches no certificate or vote: the block is simply refused

    def block_time_ms(self, block: bytes) -> int | None:
        """The proposer's timestamp, for consensus' timeliness rule (None: undecodable)."""
        try:
            return self.decode_block(block).header.time_ms
        except BallotchainError:
            return None

    def validate(self, height: int, prev_hash: bytes, block: bytes) -> bool:
        """Deterministic: no clock here. Whether a proposal's time is timely is decided by
        consensus (``consensus.timeliness``) from the time the proposal arrived, and a
        certified block fetched in catch-up is never held to it."""
        try:
            b = self.decode_block(block)
            if b.height != height or b.header.prev_hash != prev_hash:
                raise LedgerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "block does not extend the chain")
            self.execute(b)
            return True
        except BallotchainError as e:
            log.warning("block refused", height=height, code=e.code, reason=e.message)
            return False

    def _parent(self, b: Block) -> State:
        """The state ``b`` applies on: our tip, or a validated block not yet committed.

        Consensus may validate height h+1 in the same step that commits h (a
        batch of fetched blocks), before the node has carried the commit out.
        """
        if b.header.prev_hash == self.state.block_hash and b.height == self.state.height + 1:
            return self.state
        p = self._executed.get(b.header.prev_hash)
        if p is not None and p.height == b.height - 1:
            return p
        raise LedgerError(
            ErrorCode.NODE_BAD_PEER_MESSAGE, f"block {b.height} does not extend a known block"
        )

    def execute(self, b: Block) -> State:
        """The state after ``b`` (memoized by block hash until it is committed)."""
        s = self._executed.get(b.hash)
        if s is None:
            s = apply_block(self._parent(b), b, self.checker)
            self._executed[b.hash] = s
            while len(self._executed) > _EXECUTED_MAX:
                self._executed.popitem(last=False)
        return s

    # --- commit -------------------------------------------------------------------

    def commit(self, block: bytes | Block, certificate: CommitCertificate) -> Block:
        """Execute (if not done yet) and durably store ``block`` with its certificate."""
        b, staged = self.stage_commit(block, certificate)
        self.store.write_commit(staged)
        return self.finish_commit(b, staged)

    def stage_commit(self, block: bytes | Block, certificate: CommitCertificate) -> tuple[Block, StagedCommit]:
        """Execute (if not done yet) ``block`` and gather its batch; ``store.write_commit``
        then syncs it (on the disk thread, for the consensus driver) and ``finish_commit``
        moves the tip. Until then the ledger's state is the previous block's."""
        b = self.decode_block(block) if isinstance(block, bytes) else block
        if b.height != self.height + 1 or b.header.prev_hash != self.tip_hash():
            raise LedgerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"block {b.height} is not next")
        new = self.execute(b)
        return b, self.store.stage_commit(b, new, encode(certificate))

    async def commit_on(self, disk: DiskThread, block: bytes | Block, certificate: CommitCertificate) -> Block:
        """``commit`` with its synced write on ``disk``: the event loop serves meanwhile,
        and the tip moves only once the block is on disk."""
        b, staged = self.stage_commit(block, certificate)
        await disk.write(partial(self.store.write_commit, staged))
        return self.finish_commit(b, staged)

    def finish_commit(self, b: Block, staged: StagedCommit) -> Block:
        self.state = self.store.finish_commit(staged)
        for h in [h for h, s in self._executed.items() if s.height <= b.height]:
            del self._executed[h]
        return b

    def commit_certified(self, block: bytes, cert_bytes: bytes) -> Block:
        """Commit a block fetched from a peer: verify its certificate from genesis, re-execute."""
        return self.commit(*self.certified(block, cert_bytes))

    def certified(self, block: bytes, cert_bytes: bytes) -> tuple[Block, CommitCertificate]:
        """A block fetched from a peer and its certificate, verified from genesis."""
        try:
            cert = decode(CommitCertificate, cert_bytes)
            b = self.decode_block(block)
        except BallotchainError as e:
            raise LedgerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"undecodable record: {e.message}") from None
        if cert.height != b.height or cert.block_hash != b.hash:
            raise LedgerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "certificate is for another block")
        verify_certificate(self.genesis, self.chain_id, cert)
        return b, cert

    # --- mempool and producer -------------------------------------------------------

    def check_tx(self, raw: bytes, checker: Checker | None = None) -> tuple[bytes, object]:
        """Admission: decode and check ``raw`` against the tip state at the current time
        (``checker``: the ledger's, or one carrying a verification worker's refusals)."""
        tx = decode_tx(raw)
        checker = self.checker if checker is None else checker  # (an empty MemoChecker is falsy)
        h = check_tx(self.state, tx, self.next_time_ms(), checker, raw)
        return h, tx

    # --- verification on other cores (node.verify_pool) ------------------------------

    def open_elections(self) -> dict[bytes, tuple[bytes, bytes]]:
        """Each open election's manifest bytes and joint key at the tip (what a ballot's
        proofs read), for verification workers; recomputed once per block."""
        tip = self.state.block_hash
        if self._open[0] != tip:
            self._open = (tip, open_elections(self.state))
        return self._open[1]

    def unverified_txs(self, blocks: Sequence[bytes]) -> list[bytes]:
        """The transactions of these (proposed or fetched) blocks whose signature this node
        has not verified yet: a mempool that admitted them already holds their verdicts."""
        out: list[bytes] = []
        for raw in blocks:
            try:
                b = self.decode_block(raw)  # cached: validation reuses the decoded block
            except BallotchainError:
                continue
            out += [t for t in b.txs if signature_key(tx_hash(t), self.chain_id) not in self.checker]
        return out

    def next_time_ms(self) -> int:
        """The time the next block would carry: now, but strictly after the tip's time."""
        return max(int(time.time() * 1000), self.tip_time_ms() + 1)

    def build(
        self, height: int, prev_hash: bytes, proposer: bytes, txs: Sequence[bytes], limit: int
    ) -> tuple[Block, list[tuple[int, BallotchainError]]]:
        """A valid block of up to ``limit`` of ``txs`` on our tip, and the ones refused (index, why).

        Transactions valid alone may conflict inside one block (or have become
        invalid since admission): ``select_txs`` keeps the ones that apply in order,
        so the primary never proposes a block that honest replicas refuse.
        """
        t = self.next_time_ms()
        b = self._build_all(height, prev_hash, t, proposer, txs, limit)
        if b is not None:
            return b, []
        kept, rejected = select_txs(self.state, list(txs), t, self.checker, limit)
        b = make_block(height, prev_hash, t, proposer, self.state.root, kept)
        self.execute(b)
        return b, [(i, e) for i, e in rejected]

    def _build_all(self, height: int, prev_hash: bytes, t: int, proposer: bytes,
                   txs: Sequence[bytes], limit: int) -> Block | None:
        """The block ``select_txs`` would give when every candidate applies (the usual
        case: each was admitted against the tip), found by executing it once: with the
        same count and byte limits, ``select_txs`` keeps exactly these, in this order,
        and ``execute`` is then done. None when some transaction fails in the block: the
        caller selects then (the failed try costs one partial execution per block)."""
        room = self.state.chain.genesis.params.max_block_bytes
        kept: list[bytes] = []
        for raw in txs:
            if len(kept) >= limit:
                break
            if len(raw) <= room:
                kept.append(raw)
                room -= len(raw)
        b = make_block(height, prev_hash, t, proposer, self.state.root, kept)
        try:
            self.execute(b)
        except BallotchainError:
            return None
        return b
