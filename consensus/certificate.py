"""Commit certificates: proof of finality that anyone can check with the genesis alone.

A block at ``height`` is final when 2f+1 distinct validators signed
``Commit(view, height, block_hash)`` in one view: that is the paper's committed
predicate (OSDI'99 §4.2, "committed-local" at any correct replica needs 2f+1 matching
COMMITs), and by the view-change protocol (§4.4, §4.5.1) no other block can ever commit
at that height. The node stores the certificate with the block; observers, auditors and
voters' receipts verify it with ``verify_certificate`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from ballot_tx.codec import U64, Bytes32, MaxLen, Wire, decode
from ballot_tx.errors import AuditError, BallotchainError, ConsensusError, ErrorCode
from ballot_tx.replay import CertCheck
from consensus.messages import MAX_VALIDATORS, NULL_HASH, Commit, VoteSig
from consensus.verify import Verifier
from genesis.document import Genesis, genesis_hash


@dataclass(frozen=True)
class CommitCertificate(Wire):
    KIND: ClassVar[str] = "pbft/commit-certificate"
    height: U64
    view: U64
    block_hash: Bytes32
    sigs: Annotated[tuple[VoteSig, ...], MaxLen(MAX_VALIDATORS)]

    def commit(self) -> Commit:
        return Commit(self.view, self.height, self.block_hash)


def verifier_for(genesis: Genesis, chain_id: bytes) -> Verifier:
    return Verifier(tuple(v.ed25519_public for v in genesis.validators), chain_id)


def check_certificate(verifier: Verifier, cert: CommitCertificate) -> None:
    """``verify_certificate`` with a caller-held verifier (whose cache it shares)."""
    if cert.height < 1:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_CERTIFICATE, "certificate height must be >= 1")
    if cert.block_hash == NULL_HASH:
        raise ConsensusError(ErrorCode.CONSENSUS_BAD_CERTIFICATE, "certificate names no block")
    body = cert.commit()
    verifier.require_quorum(
        cert.sigs,
        lambda _i: body,
        verifier.quorum,
        ErrorCode.CONSENSUS_BAD_CERTIFICATE,
        f"commit certificate for height {cert.height}",
    )


def verify_certificate(genesis: Genesis, chain_id: bytes, cert: CommitCertificate) -> None:
    """Raise ``ConsensusError(CONSENSUS_BAD_CERTIFICATE)`` unless 2f+1 distinct genesis
    validators signed ``Commit(cert.view, cert.height, cert.block_hash)`` on this chain."""
    check_certificate(verifier_for(genesis, chain_id), cert)


def certificate_checker(genesis: Genesis) -> CertCheck:
    """The replay's certificate check for an audit: each block's stored certificate must be a
    valid commit certificate for that very block (AUDIT_CERTIFICATE_MISSING, AUDIT_BAD_CERTIFICATE)."""
    chain_id = genesis_hash(genesis)

    def check(height: int, block_hash: bytes, cert: bytes | None) -> None:
        if cert is None:
            raise AuditError(ErrorCode.AUDIT_CERTIFICATE_MISSING, "the block has no commit certificate", height)
        try:
            c = decode(CommitCertificate, cert)
            if c.height != height or c.block_hash != block_hash:
                raise AuditError(
                    ErrorCode.AUDIT_BAD_CERTIFICATE, "the certificate is for another block", height
                )
            verify_certificate(genesis, chain_id, c)
        except AuditError:
            raise
        except BallotchainError as e:
            raise AuditError(ErrorCode.AUDIT_BAD_CERTIFICATE, e.message, height) from None

    return check
