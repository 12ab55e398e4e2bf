"""Peer wiring: one ``PeerLink`` per peer, the HTTP client session they share, and the
tip watcher that polls every peer's height.

A validator links to every other genesis validator (at the address its config names
for that validator's node id or address, else the genesis address). An observer with
configured peers links to exactly those: it follows them and forwards transactions to
them. Outgoing traffic is sealed with this node's key (``node.peer_envelope``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from ballot_tx.keys import KeyPair
from genesis.document import Genesis
from node.config import NodeConfig, PeerAddress
from node.metrics import Metrics
from node.ops import PeerFigures
from node.peer_envelope import preamble, seal
from node.peer_link import PeerLink
from node.supervisor import Supervisor, cancel_all
from node.sync import TipWatcher
from node.tls import client_ssl_context

#: Envelopes ``PeerNetwork._seal`` remembers (a few links' worth of batches).
SEALED_KEPT = 16


class PeerNetwork:
    """The links to the other nodes; ``start`` opens them, ``stop`` closes them."""

    def __init__(self, cfg: NodeConfig, genesis: Genesis, keys: KeyPair, chain_id: bytes,
                 metrics: Metrics, own_height: Callable[[], int]) -> None:
        self.cfg = cfg
        self.genesis = genesis
        self.keys = keys
        self.chain_id = chain_id
        self.is_validator = cfg.mode == "validator"
        ssl_client = client_ssl_context(str(cfg.tls_ca) if cfg.tls_ca else None)
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10, sock_connect=2),
            connector=aiohttp.TCPConnector(ssl=ssl_client, limit=64),
        )
        self.links: dict[str, PeerLink] = {}
        self._sealed: dict[tuple[str, tuple[bytes, ...]], bytes] = {}  # see ``_seal``
        self.validator_links: dict[int, PeerLink] = {}
        for url, index, label in self._targets():
            link = PeerLink(url, self.session, self._seal, cfg.limits.peer_queue_max,
                            metrics, label, self._announce)
            self.links[url] = link
            if index is not None:
                self.validator_links[index] = link
        self.watcher = TipWatcher(self.session, list(self.links), own_height)
        self._tasks: list[asyncio.Task[None]] = []

    def _targets(self) -> list[tuple[str, int | None, str]]:
        """(url, validator index or None, label) of every peer to link to."""
        scheme = "https" if self.cfg.tls_ca else "http"
        by_addr = {p.hostport: p for p in self.cfg.peers}
        by_id = {p.node_id: p for p in self.cfg.peers if p.node_id}
        used: set[str] = set()
        targets: list[tuple[str, int | None, str]] = []
        for i, v in enumerate(self.genesis.validators):
            if v.ed25519_public == self.keys.ed25519_public:
                continue
            p = by_id.get(v.node_id) or by_addr.get(v.address)
            url = p.url if p else f"{scheme}://{v.address}"
            if p:
                used.add(p.url)
            targets.append((url, i, f"validator-{i}"))
        if not self.is_validator and self.cfg.peers:
            # an observer follows and forwards to exactly the peers it was told about
            targets = [(u, i, lbl) for u, i, lbl in targets if u in used]
            extra: Iterable[PeerAddress] = [p for p in self.cfg.peers if p.url not in used]
            targets += [(p.url, None, p.hostport) for p in extra]
        return targets

    def _seal(self, topic: str, payloads: Any) -> bytes:
        """``seal``, remembered for the last few batches: a broadcast queues the same
        message on every link, and each link seals what it drains, so three links
        would sign the same envelope three times (an Ed25519 signature each). Valid
        because a seal is a pure function of (key, chain, topic, payloads): Ed25519
        signatures are deterministic."""
        key = (topic, tuple(payloads))
        body = self._sealed.get(key)
        if body is None:
            body = self._sealed[key] = seal(self.keys, self.chain_id, topic, payloads)
            while len(self._sealed) > SEALED_KEPT:
                del self._sealed[next(iter(self._sealed))]
        return body

    def _announce(self, topic: str, length: int) -> str:
        return preamble(self.keys, self.chain_id, topic, length)

    def forward_targets(self) -> list[PeerLink]:
        """Where transactions go: the other validators, or an observer's peers."""
        return list(self.validator_links.values() if self.is_validator else self.links.values())

    def by_responsiveness(self, urls: list[str]) -> list[str]:
        """``urls`` with the responsive peers first (a silent one costs a timeout)."""
        return sorted(urls, key=lambda u: not self.watcher.reachable.get(u))

    def figures(self) -> list[PeerFigures]:
        """Each peer's label, reachability and last known tip, for node/ops.py."""
        w = self.watcher
        return [PeerFigures(link.label, w.reachable.get(url, False), w.tips.get(url))
                for url, link in self.links.items()]

    def start(self, supervisor: Supervisor) -> None:
        self._tasks.append(supervisor.spawn(self.watcher.run(), "tips"))
        for link in self.links.values():
            link.start()

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        for link in self.links.values():
            await link.stop()
        await self.session.close()
