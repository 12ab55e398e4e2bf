"""The node's current figures as Prometheus gauges, and the sample node/ops.py logs.

Read from the parts that hold them (ledger, mempool, replica, tip watcher) when they
are read: just before each ``GET /metrics`` scrape and on ``GET /v1/status`` (setting
them after every consensus step cost ~2 % of a validator's event loop under load). The replica keeps its own per-code tally of refused messages;
``update`` mirrors its growth into the ``consensus_rejected`` counter.
"""

from __future__ import annotations

from collections.abc import Callable

from ballot_tx.errors import ErrorCode
from consensus.replica import ReplicaState
from node.ledger import Ledger
from node.mempool import Mempool
from node.metrics import Metrics
from node.network import PeerNetwork
from node.ops import Sample


class Gauges:
    def __init__(self, metrics: Metrics, ledger: Ledger, mempool: Mempool, network: PeerNetwork,
                 replica: Callable[[], ReplicaState | None],
                 dropped: Callable[[], int] = lambda: 0) -> None:
        self.metrics = metrics
        self.ledger = ledger
        self.mempool = mempool
        self.network = network
        self.replica = replica  # the validator's current replica state; None on an observer
        self.dropped = dropped  # consensus messages the driver dropped (NODE_PEER_FLOODING)
        self._rejected_seen: dict[str, int] = {}  # replica.stats.rejected already in the metrics

    def update(self) -> None:
        m = self.metrics
        m.height.set(self.ledger.height)
        m.mempool_size.set(len(self.mempool))
        replica = self.replica()
        if replica is not None:
            m.view.set(replica.view)
            counts = {**replica.stats.rejected, str(ErrorCode.NODE_PEER_FLOODING): self.dropped()}
            for code, n in counts.items():
                seen = self._rejected_seen.get(code, 0)
                if n > seen:  # the replica's own per-code tally, mirrored as a counter
                    m.consensus_rejected.labels(code=code).inc(n - seen)
                    self._rejected_seen[code] = n
        watcher = self.network.watcher
        m.peers.set(sum(watcher.reachable.values()))
        m.catching_up.set(1 if watcher.catching_up() else 0)

    def ops_sample(self) -> Sample:
        """Peers, catching up, own height and best peer tip, for node/ops.py."""
        watcher = self.network.watcher
        return self.network.figures(), watcher.catching_up(), self.ledger.height, watcher.best_tip
