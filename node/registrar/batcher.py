"""Registrations batched into ``RegisterKeys`` transactions, one in flight at a time.

Requests wait at most ``batch_wait_ms`` and are sent as one transaction of up to
``batch_max`` entries, so a rush of voters costs a few transactions, not one each. The
chain refuses a whole batch if one entry is a duplicate, so a refused batch is retried
entry by entry and each request gets its own answer. Tags and keys already sent by this
process are refused at once (no transaction needed); after a restart the chain's own
uniqueness rule gives the same answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from node import logs
from node.registrar.errors import RegistrarError

log = logs.get("registrar")

#: Refusals of a whole batch that one entry can cause: retry the batch entry by entry.
SPLIT_ON = (ErrorCode.TX_CARD_TAG_USED, ErrorCode.TX_VOTER_REGISTERED)


@dataclass
class _Item:
    eid: bytes
    entry: KeyEntry
    fut: asyncio.Future[dict[str, Any]]


@dataclass
class Batcher:
    """Collects registrations into ``RegisterKeys`` transactions, one in flight at a time."""

    post: Callable[[RegisterKeys], Awaitable[dict[str, Any]]]
    max_batch: int = 500
    wait_s: float = 0.2
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    tags: dict[bytes, set[bytes]] = field(default_factory=dict)
    voters: dict[bytes, set[bytes]] = field(default_factory=dict)
    transactions: int = 0

    async def register(self, eid: bytes, entry: KeyEntry) -> dict[str, Any]:
        tags = self.tags.setdefault(eid, set())
        voters = self.voters.setdefault(eid, set())
        if entry.card_tag in tags:
            raise TxError(ErrorCode.TX_CARD_TAG_USED,
                          "this ID card or login already registered a voter in this election")
        if entry.voter_key in voters:
            raise TxError(ErrorCode.TX_VOTER_REGISTERED,
                          f"voter key {entry.voter_key.hex()[:16]} is already registered")
        tags.add(entry.card_tag)
        voters.add(entry.voter_key)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Item(eid, entry, fut))
        try:
            return await fut
        except BaseException:
            tags.discard(entry.card_tag)
            voters.discard(entry.voter_key)
            raise

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.wait_s
            while len(items) < self.max_batch:
                left = deadline - loop.time()
                if left <= 0 and self.queue.empty():
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), max(left, 0)))
                except TimeoutError:
                    break
            groups: dict[bytes, list[_Item]] = {}
            for it in items:
                groups.setdefault(it.eid, []).append(it)
            for group in groups.values():
                await self._send(group)

    async def _send(self, items: list[_Item]) -> None:
        items = [i for i in items if not i.fut.done()]
        if not items:
            return
        try:
            self.transactions += 1
            doc = await self.post(RegisterKeys(items[0].eid, tuple(i.entry for i in items)))
        except BallotchainError as e:
            if len(items) > 1 and e.code in SPLIT_ON:
                for it in items:
                    await self._send([it])
                return
            for it in items:
                if not it.fut.done():
                    it.fut.set_exception(type(e)(e.code, e.message))
            return
        except Exception as e:  # noqa: BLE001 - a bug must not leave requests hanging
            log.exception("registration batch failed", election=items[0].eid, size=len(items))
            for it in items:
                if not it.fut.done():
                    it.fut.set_exception(RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                                        f"registration failed ({type(e).__name__})"))
            return
        log.info("registered", election=items[0].eid, voters=len(items), height=doc.get("height"))
        for it in items:
            if not it.fut.done():
                it.fut.set_result(doc)
