"""Knowing where the network is, and catching up to it with certified blocks.

``TipWatcher`` polls each peer's tip once a second, each peer on its own with a
short timeout, so a peer that silently drops traffic delays nobody's view of the
others (it only drops out of ``ahead``). That is what ``/v1/status``
reports as ``catching_up`` (a node that lags must say so, whatever its own
consensus state believes) and what starts a fetch when consensus traffic alone
would not tell a quiet, restarted node that it is behind.

Fetched blocks are worthless until proven: ``Ledger.commit_certified`` (observers)
or consensus's ``FetchedBlocks`` handling (validators) checks each certificate
against the genesis validators and re-executes the block.

The two ``GET`` requests of catching up (``fetch_tip``, ``fetch_blocks``: the client
side of ``/p2p/tip`` and ``/p2p/blocks``) live here too: catching up is their only use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from ballot_tx.codec import unpack
from ballot_tx.errors import BallotchainError, CodecError, ErrorCode
from node import logs
from node.peer_envelope import MAX_FETCH_BLOCKS, MAX_FETCH_BYTES, PeerError

log = logs.get("sync")

POLL_S = 1.0
#: A lag shorter than this is the normal pipeline (a peer committed a moment earlier).
LAG_GRACE_S = 2.0

#: A peer that sends nothing for this long is treated as gone for this request.
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=3)
TIP_TIMEOUT = aiohttp.ClientTimeout(total=2, sock_connect=1)


async def fetch_blocks(
    session: aiohttp.ClientSession, url: str, height: int, limit: int = MAX_FETCH_BLOCKS
) -> tuple[int, list[bytes]]:
    """Ask ``url`` for blocks from ``height``: returns (peer tip, encoded block records)."""
    async with session.get(f"{url}/p2p/blocks", params={"from": str(height), "limit": str(limit)},
                           timeout=FETCH_TIMEOUT) as r:
        if r.status != 200:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"peer answered {r.status}")
        data = await r.read()
    try:
        plain: Any = unpack(data, MAX_FETCH_BYTES + (1 << 20))
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad blocks answer: {e.message}") from None
    if (
        type(plain) is not list
        or len(plain) != 2
        or type(plain[0]) is not int
        or type(plain[1]) is not list
        or not all(type(b) is bytes for b in plain[1])
    ):
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "blocks answer has the wrong shape")
    return plain[0], plain[1]


async def fetch_tip(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/p2p/tip", timeout=TIP_TIMEOUT) as r:
        if r.status != 200:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"peer answered {r.status}")
        data = await r.read()
    try:
        plain: Any = unpack(data, 1024)
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad tip answer: {e.message}") from None
    if type(plain) is not list or len(plain) != 1 or type(plain[0]) is not int or plain[0] < 0:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "tip answer has the wrong shape")
    return int(plain[0])


class TipWatcher:
    def __init__(self, session: aiohttp.ClientSession, urls: Sequence[str],
                 own_height: Callable[[], int]) -> None:
        self.session = session
        self.urls = list(urls)
        self.own_height = own_height
        self.tips: dict[str, int] = {}
        self.reachable: dict[str, bool] = {u: False for u in self.urls}
        self.changed = asyncio.Event()
        self._behind_since: float | None = None

    @property
    def best_tip(self) -> int:
        return max(self.tips.values(), default=0)

    def catching_up(self) -> bool:
        """True while peers hold blocks we lack beyond the normal one-block pipeline."""
        own, best = self.own_height(), self.best_tip
        if best <= own:
            self._behind_since = None
            return False
        now = time.monotonic()
        if self._behind_since is None:
            self._behind_since = now
        return best > own + 1 or now - self._behind_since > LAG_GRACE_S

    def ahead(self) -> list[str]:
        """Responsive peers holding blocks we lack, most advanced first."""
        own = self.own_height()
        return sorted((u for u, t in self.tips.items() if t > own and self.reachable.get(u)),
                      key=lambda u: -self.tips[u])

    def responsive(self) -> list[str]:
        """Every peer, the responsive ones first (most advanced first), the silent ones last."""
        return sorted(self.urls, key=lambda u: (not self.reachable.get(u), -self.tips.get(u, -1)))

    def failed(self, url: str) -> None:
        """A fetch from ``url`` failed: skip it until its tip answers again."""
        if self.reachable.get(url):
            self.reachable[url] = False
            self.changed.set()

    async def _poll(self, url: str) -> None:
        try:
            tip = await fetch_tip(self.session, url)
        except (aiohttp.ClientError, TimeoutError, OSError, PeerError):
            self.reachable[url] = False
            return
        self.reachable[url] = True
        if tip != self.tips.get(url):
            self.tips[url] = tip
            self.changed.set()

    async def _poll_loop(self, url: str) -> None:
        while True:
            t0 = time.monotonic()
            await self._poll(url)
            self.catching_up()
            await asyncio.sleep(max(0.05, POLL_S - (time.monotonic() - t0)))

    async def run(self) -> None:
        await asyncio.gather(*(self._poll_loop(u) for u in self.urls))


async def fetch_certified(
    session: aiohttp.ClientSession, urls: Sequence[str], height: int,
    on_failure: Callable[[str], None] | None = None,
) -> list[tuple[bytes, bytes]]:
    """Blocks from ``height`` on with their certificate bytes, from the first peer that has them.

    Callers pass the most advanced responsive peer first; a peer that does not
    answer within ``FETCH_TIMEOUT`` is skipped (and reported to ``on_failure``).
    Nothing here is trusted: the caller verifies every certificate.
    """
    for url in urls:
        try:
            _tip, records = await fetch_blocks(session, url, height, MAX_FETCH_BLOCKS)
        except (aiohttp.ClientError, TimeoutError, OSError, PeerError) as e:
            log.debug("fetch failed", peer=url, error=type(e).__name__)
            if on_failure is not None:
                on_failure(url)
            continue
        out: list[tuple[bytes, bytes]] = []
        for rec in records:
            try:  # one record may be as large as the whole answer (a block up to 4 MiB)
                pair = unpack(rec, MAX_FETCH_BYTES)
            except BallotchainError:
                break
            if type(pair) is not list or len(pair) != 2 or not all(type(x) is bytes for x in pair):
                break
            out.append((pair[0], pair[1]))
        if out:
            return out
    return []
