"""``audit --data``: replay a node's database from genesis and check what it stores.

On top of the pure replay (``ballot_tx.replay``: signatures, proofs, rules,
state roots, certificates, tallies and results), this checks the database's
own claims: every record's hash frame (a changed byte is STORE_CORRUPT naming
the record), the transaction and block-hash indexes, the tip, and that every
stored state record equals the replayed one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ballot_tx.block import Block
from ballot_tx.checks import MemoChecker
from ballot_tx.errors import AuditError, ErrorCode, StoreError
from ballot_tx.replay import Replay, ReplayReport
from ballot_tx.state.snapshot import State
from consensus.certificate import certificate_checker
from genesis.document import Genesis, from_json, genesis_hash
from node.store import P_BLOCK_HASH, P_TX, Store, describe_key
from node.verify_pool import Elections, Verdicts, open_elections, verify_txs


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


Item = tuple[Block, bytes | None]


class ParallelVerifier:
    """Checks blocks' signatures and ballot proofs on ``jobs`` worker processes, ``depth``
    blocks ahead of the one being applied, so the workers and the replay run at once.

    The work item is ``node.verify_pool.verify_txs`` over the raw transactions (the
    replay process decodes nothing for it); its verdicts are keyed by every input, so
    a block checked against the elections open ``depth`` blocks earlier only misses
    (and is checked inline) where an election opened in between.
    """

    def __init__(self, jobs: int, depth: int = 2) -> None:
        import concurrent.futures

        self.jobs = jobs
        self.depth = depth
        self.pool = concurrent.futures.ProcessPoolExecutor(jobs)
        self._futures: dict[bytes, tuple[Elections, list[concurrent.futures.Future[Verdicts]]]] = {}

    def submit(self, state: State, block: Block, elections: Elections | None = None) -> None:
        """Start checking ``block`` against the elections open in ``state``."""
        if not block.txs or block.hash in self._futures:
            return
        if elections is None:
            elections = open_elections(state)
        k = min(self.jobs, len(block.txs))
        cid = state.chain.chain_id
        self._futures[block.hash] = (
            elections,
            [self.pool.submit(verify_txs, cid, elections, block.txs[i::k]) for i in range(k)],
        )

    def ahead(self, blocks: Iterable[Item], state: Callable[[], State]) -> Iterator[Item]:
        """``blocks`` unchanged, each submitted ``depth`` blocks before it is yielded. An
        error reading a block is raised when that block's turn comes, not earlier."""
        window: deque[Item | BaseException] = deque()
        it = iter(blocks)
        done = False
        while True:
            while not done and len(window) <= self.depth:
                try:
                    item = next(it)
                except StopIteration:
                    done = True
                    break
                except Exception as e:  # noqa: BLE001 - re-raised in order below
                    window.append(e)
                    done = True
                    break
                self.submit(state(), item[0])
                window.append(item)
            if not window:
                return
            head = window.popleft()
            if isinstance(head, BaseException):
                raise head
            yield head

    def __call__(self, state: State, block: Block) -> MemoChecker | None:
        """The verdicts for ``block``, about to be applied on ``state``."""
        if not block.txs:
            return None
        now = open_elections(state)
        used, futs = self._futures.pop(block.hash, (None, []))
        checker = MemoChecker()
        for f in futs:
            f.result().absorb(checker)
        if used != now:  # read ahead before an election opened (or not read ahead): again
            self.submit(state, block, now)
            for f in self._futures.pop(block.hash)[1]:
                f.result().absorb(checker)
        return checker

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


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

        r = Replay(genesis, check)
        stream: Iterable[Item] = blocks()
        if verifier is not None:  # blocks read ahead are checked against the replay's state
            stream = verifier.ahead(stream, lambda: r.state)
        for block, cert in stream:
            r.feed(block, cert, None if verifier is None else verifier(r.state, block))
            if progress is not None:
                progress(block.height)
        report = r.finish()
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
