"""Prometheus metrics of one node (exposed at ``GET /metrics`` in the text format).

One registry per node object (not the process-global default) so that tests
running several nodes in one process do not mix their counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

#: Cast-to-commit latency buckets (seconds): PBFT on a LAN commits in tens of ms;
#: the tail up to a view change (seconds) must still be visible.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
#: Block sizes (bytes): an empty block is ~200 B, a full one of ballots several MB.
BLOCK_BYTES_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20, 16 << 20)
#: Time between consecutive blocks' header times (seconds): the batch wait up to idle gaps.
BLOCK_INTERVAL_BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


def version() -> str:
    try:
        return metadata.version("ballotchain")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Live(Collector):
    """Figures computed at scrape time (peers, elections, disk) by a provider the node sets."""

    def __init__(self) -> None:
        self.provider: Callable[[], Iterable[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return [] if self.provider is None else list(self.provider())


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.height = Gauge("ballotchain_height", "Height of the last committed block", registry=registry)
        self.view = Gauge("ballotchain_view", "Current PBFT view", registry=registry)
        self.catching_up = Gauge(
            "ballotchain_catching_up", "1 while the node is behind its peers", registry=registry
        )
        self.mempool_size = Gauge(
            "ballotchain_mempool_txs", "Transactions waiting in the mempool", registry=registry
        )
        self.peers = Gauge("ballotchain_peers_connected", "Peers reachable now", registry=registry)
        self.txs_admitted = Counter(
            "ballotchain_txs_admitted", "Transactions admitted to the mempool", registry=registry
        )
        self.txs_rejected = Counter(
            "ballotchain_txs_rejected",
            "Transactions rejected at admission, by error code",
            ["code"],
            registry=registry,
        )
        self.txs_committed = Counter(
            "ballotchain_txs_committed", "Transactions in committed blocks", registry=registry
        )
        self.blocks_committed = Counter(
            "ballotchain_blocks_committed", "Blocks committed by this node", registry=registry
        )
        self.commit_latency = Histogram(
            "ballotchain_commit_latency_seconds",
            "Time from admission to commit of transactions admitted by this node",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.peer_dropped = Counter(
            "ballotchain_peer_messages_dropped",
            "Outgoing peer messages dropped because a peer's queue was full",
            ["peer"],
            registry=registry,
        )
        self.consensus_rejected = Counter(
            "ballotchain_consensus_rejected",
            "Consensus messages and proposals refused by this validator, by error code "
            "(CONSENSUS_UNTIMELY: a proposal's block time outside the timeliness window)",
            ["code"],
            registry=registry,
        )
        self.http_errors = Counter(
            "ballotchain_http_errors", "Client API errors answered, by code", ["code"], registry=registry
        )
        # --- for operators (issue 14): process, build, blocks, view changes, live figures
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, memory, open fds
        self.build_info = Gauge(
            "ballotchain_build_info", "Always 1; labels say what runs",
            ["version", "chain", "chain_id", "node_id", "mode"], registry=registry,
        )
        self.block_bytes = Histogram(
            "ballotchain_block_bytes", "Size of committed blocks (canonical encoding)",
            buckets=BLOCK_BYTES_BUCKETS, registry=registry,
        )
        self.block_interval = Histogram(
            "ballotchain_block_interval_seconds",
            "Time between consecutive committed blocks' header times",
            buckets=BLOCK_INTERVAL_BUCKETS, registry=registry,
        )
        self.view_changes = Counter(
            "ballotchain_view_changes", "View changes this validator took part in, by reason",
            ["reason"], registry=registry,
        )
        self.live = _Live()
        registry.register(self.live)
        #: sets the gauges from the parts that hold them, just before each scrape
        self.before_scrape: Callable[[], None] | None = None

    def set_build(self, chain: str, chain_id: str, node_id: str, mode: str) -> None:
        self.build_info.labels(version=version(), chain=chain, chain_id=chain_id,
                               node_id=node_id, mode=mode).set(1)

    def exposition(self) -> tuple[bytes, str]:
        """The body and content type of ``GET /metrics``."""
        if self.before_scrape is not None:
            self.before_scrape()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
