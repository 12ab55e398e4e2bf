"""The answers of the client API: what ``/v1/…`` asks of the node.

``ClientApi`` is the backend of ``node.server`` (and of the voting page's lookups in
``node.web``): status, blocks, transactions and their commit, elections, receipts,
voters, each read from the ledger, admission, the transactions' status and the
network. It is separate from the peer side (``node.peer_api``) and from the server
that assembles the routes (``node.http_service``) because it answers voters and
operators, not peers, and knows nothing of sockets.
"""

from __future__ import annotations

import time
from typing import Any

from ballot_tx.keys import KeyPair
from genesis.document import Genesis
from node import views
from node.admission import Admission
from node.config import NodeConfig
from node.driver import ConsensusDriver
from node.gauges import Gauges
from node.ledger import Ledger
from node.network import PeerNetwork
from node.supervisor import Supervisor
from node.tx_status import Committed, TxStatus


class ClientApi:
    """The answers of ``/v1/…`` (implements ``node.server.Backend``)."""

    def __init__(self, cfg: NodeConfig, genesis: Genesis, chain_id: bytes, keys: KeyPair,
                 index: int | None, ledger: Ledger, admission: Admission, tx_status: TxStatus,
                 driver: ConsensusDriver | None, network: PeerNetwork, gauges: Gauges,
                 supervisor: Supervisor) -> None:
        self.cfg = cfg
        self.genesis = genesis
        self.chain_id = chain_id
        self.keys = keys
        self.index = index
        self.ledger = ledger
        self.admission = admission
        self.tx_status = tx_status
        self.driver = driver
        self.network = network
        self.gauges = gauges
        self.supervisor = supervisor
        self.started = time.time()

    def status(self) -> dict[str, Any]:
        self.gauges.update()
        st = None if self.driver is None else self.driver.replica
        watcher = self.network.watcher
        peers = []
        for url, link in self.network.links.items():
            peers.append({
                "url": url, "name": link.label,
                "reachable": watcher.reachable.get(url, False),
                "height": watcher.tips.get(url),
                "queued": link.queued(),
            })
        return {
            "chain": self.genesis.chain_id,
            "chain_id": self.chain_id.hex(),
            "node_id": self.keys.node_id,
            "mode": self.cfg.mode,
            "validator_index": self.index,
            "height": self.ledger.height,
            "block_hash": self.ledger.tip_hash().hex(),
            "view": None if st is None else st.view,
            "primary": None if st is None else st.primary(st.view),
            "view_active": None if st is None else st.active,
            "catching_up": watcher.catching_up(),
            "peer_height": watcher.best_tip,
            "peers": peers,
            "peers_reachable": sum(watcher.reachable.values()),
            "mempool": len(self.admission.mempool),
            "store_damaged": self.supervisor.damaged,
            "uptime_s": round(time.time() - self.started, 1),
        }

    def block(self, height: int) -> dict[str, Any] | None:
        return views.block_view(self.ledger.store, height)

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None:
        return self.tx_status.status(tx_hash)

    async def submit_tx(self, raw: bytes, client: str) -> bytes:
        return await self.admission.submit(raw, client)

    async def wait_commit(self, tx_hash: bytes, timeout_s: float) -> Committed | None:
        return await self.tx_status.wait_commit(tx_hash, timeout_s)

    def election(self, election_id: bytes) -> dict[str, Any] | None:
        return views.election_view(self.ledger.state, election_id)

    def election_result(self, election_id: bytes) -> dict[str, Any] | None:
        return views.result_view(self.ledger.state, election_id)

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        r = views.receipt_view(self.ledger.store, tx_hash)
        if r is not None:
            r["cancelled"] = views.ballot_cancelled(self.ledger.state, self.ledger.store, tx_hash)
        return r

    def voter(self, election_id: bytes, key: bytes) -> dict[str, Any] | None:
        return views.voter_view(self.ledger.state, election_id, key)
