"""``audit --data``: replay a node's database from genesis and check what it stores.

On top of the pure replay (``ballot_tx.replay``: signatures, proofs, rules,
state roots, certificates, tallies and results), this checks the database's
own claims: every record's hash frame (a changed byte is STORE_CORRUPT naming
the record), the transaction and block-hash indexes, the tip, and that every
stored state record equals the replayed one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ballot_tx.block import Block
from ballot_tx.checks import MemoChecker
from ballot_tx.errors import AuditError, BallotchainError, ErrorCode, StoreError
from ballot_tx.replay import CertCheck, ReplayReport, replay
from ballot_tx.state import State, proof_batches, verify_batch
from genesis.document import Genesis, from_json, genesis_hash
from node.store import P_BLOCK_HASH, P_TX, Store, describe_key


def find_database(path: Path) -> tuple[Path, Genesis | None]:
    """The LevelDB directory and the home's genesis, for a node home or a data directory."""
    path = Path(path)
    genesis = None
    if (path / "genesis.json").is_file():
        genesis = from_json((path / "genesis.json").read_text())
    if (path / "CURRENT").is_file():
        return path, genesis
    if (path / "data" / "CURRENT").is_file():
        return path / "data", genesis
    raise StoreError(ErrorCode.STORE_NOT_FOUND, f"no node database in {path} (nor in {path / 'data'})")


def certificate_checker(genesis: Genesis) -> CertCheck | None:
    """Checks commit certificates with the consensus module; None if it is not installed."""
    try:
        from consensus.certificate import CommitCertificate, verify_certificate
    except ImportError:
        return None
    from ballot_tx.codec import decode

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


class ParallelVerifier:
    """Checks each block's ballot proofs on ``jobs`` worker processes before it is applied."""

    def __init__(self, jobs: int) -> None:
        import concurrent.futures

        self.jobs = jobs
        self.pool = concurrent.futures.ProcessPoolExecutor(jobs)

    def __call__(self, state: State, block: Block) -> MemoChecker | None:
        batches = proof_batches(state, block, self.jobs)
        if not batches:
            return None
        checker = MemoChecker()
        for keys in self.pool.map(verify_batch, batches):
            for k in keys:
                checker.add(k)
        return checker

    def close(self) -> None:
        self.pool.shutdown()


def audit_data_dir(
    path: Path,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> ReplayReport:
    """Audit the node database at ``path``; raise ``AuditError`` (or ``StoreError``) at the first
    failure. With ``jobs`` > 1, ballot proofs are checked on that many processes."""
    verifier = ParallelVerifier(jobs) if jobs > 1 else None
    try:
        return _audit(path, on_start, progress, verifier)
    finally:
        if verifier is not None:
            verifier.close()


def _audit(
    path: Path,
    on_start: Callable[[int], None] | None,
    progress: Callable[[int], None] | None,
    verifier: ParallelVerifier | None,
) -> ReplayReport:
    db, home_genesis = find_database(path)
    with Store(db, home_genesis, create=False) as store:
        genesis = store.genesis
        if on_start is not None:
            on_start(store.height)
        check = certificate_checker(genesis)

        tx_seen: set[bytes] = set()
        block_seen: set[bytes] = set()

        def blocks():  # type: ignore[no-untyped-def]
            for h in range(1, store.height + 1):
                try:
                    block, cert = store.block(h), store.get_certificate(h)
                except StoreError as e:
                    raise AuditError(e.code, e.message, h) from None
                if store.height_of(block.hash) != h:
                    raise AuditError(ErrorCode.STORE_CORRUPT, "the block-hash index does not point here", h)
                for i, th in enumerate(block.tx_hashes()):
                    if store.find_tx(th) != (h, i):
                        raise AuditError(ErrorCode.STORE_CORRUPT, "the transaction index does not point here", h, i)
                    tx_seen.add(th)
                block_seen.add(block.hash)
                yield block, cert

        def load_tx(h: int, i: int) -> bytes:
            return store.block(h).txs[i]

        r, report = replay(genesis, blocks(), load_tx, check, progress, verifier)
        for name, prefix, seen in (("tx", P_TX, tx_seen), ("block-hash", P_BLOCK_HASH, block_seen)):
            for key in store.db.iterator(prefix=prefix, include_value=False):
                if key[len(prefix) :] not in seen:
                    raise AuditError(
                        ErrorCode.STORE_CORRUPT, f"{name} index entry {key[len(prefix):].hex()} names nothing in the chain"
                    )
        tip = store.tip
        if r.state.height != tip.height or r.state.block_hash != tip.block_hash:
            raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN, "the stored tip is not the last replayed block")
        if r.state.root != tip.state_root:
            raise AuditError(
                ErrorCode.AUDIT_STATE_MISMATCH,
                f"stored state root {tip.state_root.hex()[:16]} differs from the replayed {r.state.root.hex()[:16]}",
            )
        replayed = r.base.records
        seen = 0
        for key, value in store.state_items():
            if replayed.get(key) != value:
                raise AuditError(
                    ErrorCode.AUDIT_STATE_MISMATCH,
                    f"stored {describe_key(b'st/' + key)} differs from the replayed state",
                )
            seen += 1
        if seen != len(replayed):
            raise AuditError(
                ErrorCode.AUDIT_STATE_MISMATCH,
                f"the database holds {seen} state records, the replay {len(replayed)}",
            )
        return report
