"""Block proofs checked ahead of a replay, on worker processes.

A replay applies blocks one by one; checking their signatures and ballot proofs is most of
the work and needs no state beyond the elections open. ``ParallelVerifier`` checks each
block ``depth`` blocks ahead on ``jobs`` processes (``node.verify_work.verify_txs``), so
the workers and the replay run at once (``audit --data --jobs``, ``scripts/bench_apply``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from ballot_tx.block import Block
from ballot_tx.checks import MemoChecker
from ballot_tx.state.snapshot import State
from node.verify_work import Elections, Verdicts, open_elections, verify_txs

Item = tuple[Block, bytes | None]


class ParallelVerifier:
    """Checks blocks' signatures and ballot proofs on ``jobs`` worker processes, ``depth``
    blocks ahead of the one being applied, so the workers and the replay run at once.

    The work item is ``node.verify_work.verify_txs`` over the raw transactions (the
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
