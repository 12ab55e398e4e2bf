"""Replay audit: re-execute a chain from genesis, trusting nothing but the genesis.

Every block is re-applied with no verify-once cache, so every signature, proof,
authority, phase and time-window rule is checked again and every header's
state root is recomputed; a commit certificate is checked when a checker is
given. Then each election's tally is recomputed independently, by summing the
last counted ballot of every voter as read from the blocks (not the running
tally in the state), and its published result is verified against that tally
and the trustees' decryption shares. The first failure is raised as an
``AuditError`` naming the height, the transaction index and the reason.

Pure: the caller supplies the blocks (a node's database, an exported record,
or a live node) and reads transactions back by position for the tally.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ballot_tx.block import Block
from ballot_tx.checks import Checker
from ballot_tx.codec import digest
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto.ballot import EncryptedBallot
from ballot_tx.errors import AuditError, BallotchainError, BlockError, ErrorCode
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.state import PHASE_NAMES, MemoryBase, Phase, State, apply_block
from ballot_tx.tx import CastBallot, CreateElection, decode_tx

#: (height, block hash, certificate bytes or None) -> None, raising AuditError.
CertCheck = Callable[[int, bytes, bytes | None], None]


@dataclass
class ElectionAudit:
    election_id: bytes
    name: str
    phase: str
    registered: int
    ballots_cast: int
    voters_voted: int
    spoiled: int
    result: tally_crypto.TallyResult | None
    manifest: Manifest


@dataclass
class ReplayReport:
    blocks: int = 0
    txs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    certificates: int = 0
    state_root: bytes = b""
    elections: list[ElectionAudit] = field(default_factory=list)


class Replay:
    """Re-executes blocks one at a time (``feed``), then checks the tallies (``finish``)."""

    def __init__(self, genesis: object, cert_check: CertCheck | None = None) -> None:
        self.base = MemoryBase()
        self.state = State.initial(genesis, self.base)  # type: ignore[arg-type]
        self.cert_check = cert_check
        self.report = ReplayReport(state_root=self.state.root)
        # election id -> voter key -> (height, index) of the ballot that counts
        self.counted: dict[bytes, dict[bytes, tuple[int, int]]] = {}
        self.elections: list[bytes] = []

    def feed(self, block: Block, certificate: bytes | None, verified: Checker | None = None) -> None:
        """Re-apply one block. ``verified`` may be a ``MemoChecker`` holding verdicts
        reached elsewhere (in parallel, by ``state.verify_batch``)."""
        h = block.height
        if self.cert_check is not None:
            self.cert_check(h, block.hash, certificate)
            self.report.certificates += 1
        try:
            new = apply_block(self.state, block, verified)
        except BlockError as e:
            raise AuditError(e.code, e.message.split(": ", 1)[-1], h, e.tx_index) from None
        except BallotchainError as e:
            raise AuditError(e.code, e.message, h) from None
        for i, raw in enumerate(block.txs):
            tx = decode_tx(raw)
            self.report.kinds[tx.kind] += 1
            body = tx.body
            if isinstance(body, CastBallot):
                self.counted.setdefault(body.election_id, {})[tx.signer] = (h, i)
            elif isinstance(body, CreateElection):
                self.elections.append(election_id(body.manifest))
        self.state = self.base.commit(new)
        self.report.blocks += 1
        self.report.txs += len(block.txs)
        self.report.state_root = self.state.root

    def finish(self, load_tx: Callable[[int, int], bytes]) -> ReplayReport:
        """Recompute every election's tally from its counted ballots and check its result."""
        for eid in self.elections:
            self.report.elections.append(self._election(eid, load_tx))
        return self.report

    def _election(self, eid: bytes, load_tx: Callable[[int, int], bytes]) -> ElectionAudit:
        st = self.state.election(eid)
        m = self.state.manifest(eid)
        assert st is not None and m is not None
        where = f"election {m.name} ({eid.hex()[:16]})"
        ballots: list[EncryptedBallot] = []
        for voter, (h, i) in sorted(self.counted.get(eid, {}).items()):
            tx = decode_tx(load_tx(h, i))
            if not isinstance(tx.body, CastBallot) or tx.signer != voter:
                raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN, f"{where}: ballot moved", h, i)
            ballots.append(tx.body.ballot)
        recomputed = tally_crypto.aggregate(m, ballots)
        running = self.state.tally(eid)
        if running is None or digest(running) != digest(recomputed):
            raise AuditError(
                ErrorCode.AUDIT_RESULT_MISMATCH,
                f"{where}: the tally recomputed from {len(ballots)} counted ballots differs from the chain's",
            )
        result = self.state.result(eid)
        if result is not None:
            coms = self.state.qualified_commitments(eid)
            shares = self.state.decryption_shares(eid, len(m.trustees))
            try:
                tally_crypto.verify_result(m, coms, recomputed, shares, result)
            except BallotchainError as e:
                raise AuditError(
                    ErrorCode.AUDIT_RESULT_MISMATCH, f"{where}: published result fails: {e.message}"
                ) from None
        return ElectionAudit(
            eid,
            m.name,
            PHASE_NAMES[Phase(st.phase)],
            st.registered,
            st.ballots_cast,
            st.voters_voted,
            st.spoiled,
            result,
            m,
        )


def replay(
    genesis: object,
    blocks: Iterable[tuple[Block, bytes | None]],
    load_tx: Callable[[int, int], bytes],
    cert_check: CertCheck | None = None,
    progress: Callable[[int], None] | None = None,
    preverify: Callable[[State, Block], Checker | None] | None = None,
) -> tuple[Replay, ReplayReport]:
    """Replay ``blocks`` (in height order) and audit every election. ``preverify`` may
    check a block's proofs elsewhere first (e.g. on other cores) and return the verdicts."""
    r = Replay(genesis, cert_check)
    for block, cert in blocks:
        r.feed(block, cert, preverify(r.state, block) if preverify is not None else None)
        if progress is not None:
            progress(block.height)
    return r, r.finish(load_tx)

