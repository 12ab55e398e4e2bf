"""Replay audit: re-execute a chain from genesis, trusting nothing but the genesis.

Every block is re-applied with no verify-once cache, so every signature, proof,
authority, phase and time-window rule is checked again and every header's
state root is recomputed; a commit certificate is checked when a checker is
given. Then each election's tally is checked independently of the state's running
tally, and its published result is verified against that tally and the trustees'
decryption shares. The first failure is raised as an ``AuditError`` naming the
height, the transaction index and the reason.

The recount, by additions only: while the blocks are fed, the replay sums every
accepted cast (``A``) and, as the one rule ``state.voting.LastBallots`` says a ballot
stops counting (its voter cast again, or voted on paper), sums those too (``S``).
The state's tally ``T`` is right exactly when ``T + S = A``: every cast is either
counted or stopped counting, so this is the specification's "sum of the last
ballot of every voter" (docs/spec/verify.md step 8) rearranged. ``T`` was built by
adding and subtracting as ``cast_ballot`` decided; the recount never subtracts, and
decides by its own rule, so a wrong subtraction or a wrong choice of ballot in the
state shows as a mismatch.

Each transaction is decoded once (``apply_block`` hands the decoded transaction to the
replay), and each ballot point once: the recount adds a ballot right after the state
did, while ``point_sums.sharing_decodes`` keeps the points just decoded.

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
from ballot_tx.crypto.point_sums import sharing_decodes
from ballot_tx.errors import AuditError, BallotchainError, BlockError, ErrorCode
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.state.execute import apply_block
from ballot_tx.state.records import PHASE_NAMES, Phase, ballot_from_ciphertexts, ciphertext_bytes
from ballot_tx.state.snapshot import MemoryBase, State
from ballot_tx.state.voting import LastBallots
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


class Recount:
    """One election's recount while the blocks are fed: the sum of every cast (``cast``)
    and of the ballots that stopped counting (``stopped``), by additions only."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.election_id = election_id(manifest)
        self.rule: LastBallots[bytes] = LastBallots()  # voter -> ciphertexts of the last cast
        self.cast = tally_crypto.RunningTally(tally_crypto.empty_tally(manifest))
        self.stopped = tally_crypto.RunningTally(tally_crypto.empty_tally(manifest))

    def on_cast(self, voter: bytes, ballot: EncryptedBallot) -> None:
        self.cast.add(ballot)
        replaced = self.rule.cast(voter, ciphertext_bytes(ballot))
        if replaced is not None:
            self.stopped.add(ballot_from_ciphertexts(self.manifest, self.election_id, replaced))

    def on_cancel(self, voter: bytes) -> None:
        gone = self.rule.cancel(voter)
        if gone is not None:
            self.stopped.add(ballot_from_ciphertexts(self.manifest, self.election_id, gone))

    def agrees_with(self, tally: tally_crypto.EncryptedTally) -> bool:
        """``tally + stopped == cast``: ``tally`` sums exactly the counted ballots."""
        both = tally_crypto.merge_tallies(self.manifest, [tally, self.stopped.tally()])
        return digest(both) == digest(self.cast.tally())


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
        self.recounts: dict[bytes, Recount] = {}  # election id -> its recount, in creation order

    def feed(self, block: Block, certificate: bytes | None, verified: Checker | None = None) -> None:
        """Re-apply one block. ``verified`` may be a ``MemoChecker`` holding verdicts
        reached elsewhere (in parallel, by ``node.verify_pool.verify_txs``)."""
        h = block.height
        if self.cert_check is not None:
            self.cert_check(h, block.hash, certificate)
            self.report.certificates += 1
        kinds, recounts = self.report.kinds, self.recounts

        def observe(i: int, tx: Tx, tx_hash: bytes) -> None:
            kinds[tx.kind] += 1
            body = tx.body
            if isinstance(body, CastBallot):
                recounts[body.election_id].on_cast(tx.signer, body.ballot)
            elif isinstance(body, CancelInternetVote):  # their ballots no longer count
                for voter in body.voter_keys:
                    recounts[body.election_id].on_cancel(voter)
            elif isinstance(body, CreateElection):
                recounts[election_id(body.manifest)] = Recount(body.manifest)

        try:
            with sharing_decodes():
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
        for eid, recount in self.recounts.items():
            self.report.elections.append(self._election(eid, recount))
        return self.report

    def _election(self, eid: bytes, recount: Recount) -> ElectionAudit:
        status = self.state.election(eid)
        manifest = self.state.manifest(eid)
        assert status is not None and manifest is not None
        where = f"election {manifest.name} ({eid.hex()[:16]})"
        recomputed = self.state.tally(eid)
        if recomputed is None or not recount.agrees_with(recomputed):
            raise AuditError(
                ErrorCode.AUDIT_RESULT_MISMATCH,
                f"{where}: the tally recomputed from {recount.rule.voters_counted()} counted "
                "ballots differs from the chain's",
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

