"""``audit --data``: replay a node's database from genesis and check what it stores.

On top of the pure replay (``ballot_tx.replay``: signatures, proofs, rules,
state roots, certificates, tallies and results), this checks the database's
own claims: every record's hash frame (a changed byte is STORE_CORRUPT naming
the record), the transaction and block-hash indexes, the tip, and that every
stored state record equals the replayed one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ballot_tx.errors import AuditError, ErrorCode, StoreError
from ballot_tx.replay import Replay, ReplayReport
from consensus.certificate import certificate_checker
from genesis.document import Genesis, from_json, genesis_hash
from node.store import Store
from node.store_format import P_BLOCK_HASH, P_TX, describe_key
from node.verify_ahead import Item, ParallelVerifier


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


def audit_data_dir(
    path: Path,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    expect_genesis: bytes | None = None,
) -> ReplayReport:
    """Audit the node database at ``path``; raise ``AuditError`` (or ``StoreError``) at the first
    failure. With ``jobs`` > 1, ballot proofs are checked on that many processes.
    ``expect_genesis``: the chain id the auditor trusts, checked before any block is read."""
    verifier = ParallelVerifier(jobs) if jobs > 1 else None
    try:
        return _audit(path, on_start, progress, verifier, expect_genesis)
    finally:
        if verifier is not None:
            verifier.close()


def _audit(
    path: Path,
    on_start: Callable[[int], None] | None,
    progress: Callable[[int], None] | None,
    verifier: ParallelVerifier | None,
    expect_genesis: bytes | None = None,
) -> ReplayReport:
    db, home_genesis = find_database(path)
    with Store(db, home_genesis, create=False) as store:
        genesis = store.genesis
        if expect_genesis is not None and genesis_hash(genesis) != expect_genesis:
            raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN,
                             f"genesis: its hash {genesis_hash(genesis).hex()} is not the expected "
                             f"{expect_genesis.hex()}")
        if on_start is not None:
            on_start(store.height)
        check = certificate_checker(genesis)

        tx_seen: set[bytes] = set()
        block_seen: set[bytes] = set()

        def blocks() -> Iterator[Item]:
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

        replay = Replay(genesis, check)
        stream: Iterable[Item] = blocks()
        if verifier is not None:  # blocks read ahead are checked against the replay's state
            stream = verifier.ahead(stream, lambda: replay.state)
        for block, cert in stream:
            replay.feed(block, cert, None if verifier is None else verifier(replay.state, block))
            if progress is not None:
                progress(block.height)
        report = replay.finish()
        for name, prefix, seen in (("tx", P_TX, tx_seen), ("block-hash", P_BLOCK_HASH, block_seen)):
            for key in store.db.iterator(prefix=prefix, include_value=False):
                if key[len(prefix) :] not in seen:
                    raise AuditError(
                        ErrorCode.STORE_CORRUPT, f"{name} index entry {key[len(prefix):].hex()} names nothing in the chain"
                    )
        tip = store.tip
        if replay.state.height != tip.height or replay.state.block_hash != tip.block_hash:
            raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN, "the stored tip is not the last replayed block")
        if replay.state.root != tip.state_root:
            raise AuditError(
                ErrorCode.AUDIT_STATE_MISMATCH,
                f"stored state root {tip.state_root.hex()[:16]} differs from the replayed {replay.state.root.hex()[:16]}",
            )
        replayed = replay.base.records
        n_records = 0
        for key, value in store.state_items():
            if replayed.get(key) != value:
                raise AuditError(
                    ErrorCode.AUDIT_STATE_MISMATCH,
                    f"stored {describe_key(b'st/' + key)} differs from the replayed state",
                )
            n_records += 1
        if n_records != len(replayed):
            raise AuditError(
                ErrorCode.AUDIT_STATE_MISMATCH,
                f"the database holds {n_records} state records, the replay {len(replayed)}",
            )
        return report
