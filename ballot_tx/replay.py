"""Replay audit: re-execute a chain from genesis, trusting nothing but the genesis.

Every block is re-applied with no verify-once cache, so every signature, proof,
authority, phase and time-window rule is checked again and every header's
state root is recomputed; a commit certificate is checked when a checker is
given. Then each election's tally is recomputed independently, by summing the
last counted ballot of every voter as read from the blocks (not the running
tally in the state), and its published result is verified against that tally
and the trustees' decryption shares. The first failure is raised as an
``AuditError`` naming the height, the transaction index and the reason.

Each transaction is decoded once: ``apply_block`` hands the decoded transaction to
the replay, which keeps the ciphertexts of every cast ballot (64 bytes per
ciphertext, no proofs) and the cancelled voters for the final tally, so no block is
read again; which ballots count is the one rule ``state.voting.last_ballots``.

Pure: the caller supplies the blocks (a node's database, an exported record,
or a live node).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ballot_tx.block import Block
from ballot_tx.checks import Checker
from ballot_tx.codec import digest
from ballot_tx.crypto import decryption
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto.ballot import EncryptedBallot
from ballot_tx.errors import AuditError, BallotchainError, BlockError, ErrorCode
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.state.execute import apply_block
from ballot_tx.state.records import PHASE_NAMES, Phase, ballot_from_ciphertexts, ciphertext_bytes
from ballot_tx.state.snapshot import MemoryBase, State
from ballot_tx.state.voting import last_ballots
from ballot_tx.tx import CancelInternetVote, CastBallot, CreateElection, Tx

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
    result: decryption.TallyResult | None
    manifest: Manifest
    cancelled: int = 0  # internet votes a paper vote overrode


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
        # election id -> every cast in chain order: (voter key, ciphertexts alpha||beta...)
        self.casts: dict[bytes, list[tuple[bytes, bytes]]] = {}
        # election id -> voters whose internet vote a paper vote cancelled
        self.cancelled: dict[bytes, set[bytes]] = {}
        self.elections: list[bytes] = []

    def feed(self, block: Block, certificate: bytes | None, verified: Checker | None = None) -> None:
        """Re-apply one block. ``verified`` may be a ``MemoChecker`` holding verdicts
        reached elsewhere (in parallel, by ``node.verify_pool.verify_txs``)."""
        h = block.height
        if self.cert_check is not None:
            self.cert_check(h, block.hash, certificate)
            self.report.certificates += 1
        kinds = self.report.kinds
        casts, cancelled, elections = self.casts, self.cancelled, self.elections

        def observe(i: int, tx: Tx, tx_hash: bytes) -> None:
            kinds[tx.kind] += 1
            body = tx.body
            if isinstance(body, CastBallot):
                casts.setdefault(body.election_id, []).append((tx.signer, ciphertext_bytes(body.ballot)))
            elif isinstance(body, CancelInternetVote):  # their ballots no longer count
                cancelled.setdefault(body.election_id, set()).update(body.voter_keys)
            elif isinstance(body, CreateElection):
                elections.append(election_id(body.manifest))

        try:
            new = apply_block(self.state, block, verified, observe)
        except BlockError as e:
            raise AuditError(e.code, e.message.split(": ", 1)[-1], h, e.tx_index) from None
        except BallotchainError as e:
            raise AuditError(e.code, e.message, h) from None
        self.state = self.base.commit(new)
        self.report.blocks += 1
        self.report.txs += len(block.txs)
        self.report.state_root = self.state.root

    def finish(self, load_tx: Callable[[int, int], bytes] | None = None) -> ReplayReport:
        """Recompute every election's tally from its counted ballots and check its result.
        (``load_tx`` is no longer read: the ballots' ciphertexts were kept while feeding.)"""
        for eid in self.elections:
            self.report.elections.append(self._election(eid))
        return self.report

    def _election(self, eid: bytes) -> ElectionAudit:
        status = self.state.election(eid)
        manifest = self.state.manifest(eid)
        assert status is not None and manifest is not None
        where = f"election {manifest.name} ({eid.hex()[:16]})"
        counted = last_ballots(self.casts.get(eid, []), self.cancelled.get(eid, set()))
        ballots: list[EncryptedBallot] = [
            ballot_from_ciphertexts(manifest, eid, cts) for cts in counted.values()
        ]
        recomputed = tally_crypto.aggregate(manifest, ballots)
        running = self.state.tally(eid)
        if running is None or digest(running) != digest(recomputed):
            raise AuditError(
                ErrorCode.AUDIT_RESULT_MISMATCH,
                f"{where}: the tally recomputed from {len(ballots)} counted ballots differs from the chain's",
            )
        result = self.state.result(eid)
        if result is not None:
            commitments = self.state.qualified_commitments(eid)
            shares = self.state.decryption_shares(eid, len(manifest.trustees))
            try:
                decryption.verify_result(manifest, commitments, recomputed, shares, result)
            except BallotchainError as e:
                raise AuditError(
                    ErrorCode.AUDIT_RESULT_MISMATCH, f"{where}: published result fails: {e.message}"
                ) from None
        return ElectionAudit(
            eid,
            manifest.name,
            PHASE_NAMES[Phase(status.phase)],
            status.registered,
            status.ballots_cast,
            status.voters_voted,
            status.spoiled,
            result,
            manifest,
            cancelled=status.cancelled,
        )


def replay(
    genesis: object,
    blocks: Iterable[tuple[Block, bytes | None]],
    load_tx: Callable[[int, int], bytes] | None,
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

