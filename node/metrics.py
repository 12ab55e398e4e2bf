"""Prometheus metrics of one node (exposed at ``GET /metrics`` in the text format).

One registry per node object (not the process-global default) so that tests
running several nodes in one process do not mix their counters.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: Cast-to-commit latency buckets (seconds): PBFT on a LAN commits in tens of ms;
#: the tail up to a view change (seconds) must still be visible.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.height = Gauge("ballotchain_height", "Height of the last committed block", registry=r)
        self.view = Gauge("ballotchain_view", "Current PBFT view", registry=r)
        self.catching_up = Gauge(
            "ballotchain_catching_up", "1 while the node is behind its peers", registry=r
        )
        self.mempool_size = Gauge(
            "ballotchain_mempool_txs", "Transactions waiting in the mempool", registry=r
        )
        self.peers = Gauge("ballotchain_peers_connected", "Peers reachable now", registry=r)
        self.txs_admitted = Counter(
            "ballotchain_txs_admitted", "Transactions admitted to the mempool", registry=r
        )
        self.txs_rejected = Counter(
            "ballotchain_txs_rejected",
            "Transactions rejected at admission, by error code",
            ["code"],
            registry=r,
        )
        self.txs_committed = Counter(
            "ballotchain_txs_committed", "Transactions in committed blocks", registry=r
        )
        self.blocks_committed = Counter(
            "ballotchain_blocks_committed", "Blocks committed by this node", registry=r
        )
        self.commit_latency = Histogram(
            "ballotchain_commit_latency_seconds",
            "Time from admission to commit of transactions admitted by this node",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.peer_dropped = Counter(
            "ballotchain_peer_messages_dropped",
            "Outgoing peer messages dropped because a peer's queue was full",
            ["peer"],
            registry=r,
        )
        self.consensus_rejected = Counter(
            "ballotchain_consensus_rejected",
            "Consensus messages and proposals refused by this validator, by error code "
            "(CONSENSUS_UNTIMELY: a proposal's block time outside the timeliness window)",
            ["code"],
            registry=r,
        )
        self.http_errors = Counter(
            "ballotchain_http_errors", "Client API errors answered, by code", ["code"], registry=r
        )

    def exposition(self) -> tuple[bytes, str]:
        """The body and content type of ``GET /metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
