"""The figures ``/metrics`` computes when it is scraped: peers, elections, disk.

Separate from the operator's log lines (``node.ops``) because it is the other side of
monitoring: Prometheus pulls these at scrape time through the collector the node sets
(``Metrics.live``), where the log lines are pushed as events happen; it reads the
peers' sample (``node.gauges``), the elections ``node.ops`` tracks, and the data
directory's size, cached a few seconds because walking it costs a scrape. Family names
and labels are stable (docs/node.md, "Metrics"; tests/deploy/test_ops_logs.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from node.ops import Operations, Sample

DISK_CACHE_S = 10.0


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class LiveFigures:
    """The scrape-time metric families, from a sample and the elections ``ops`` tracks."""

    def __init__(self, data_dir: Path, ops: Operations) -> None:
        self.data_dir = data_dir
        self.ops = ops
        self._disk: tuple[float, int] = (0.0, 0)

    def disk(self) -> tuple[int, int, int]:
        """(bytes in the data dir, free bytes and size of its file system), cached a few seconds."""
        now = time.monotonic()
        if now - self._disk[0] > DISK_CACHE_S:
            self._disk = (now, dir_bytes(self.data_dir))
        try:
            fs = os.statvfs(self.data_dir)
            free, size = fs.f_bavail * fs.f_frsize, fs.f_blocks * fs.f_frsize
        except OSError:
            free = size = 0
        return self._disk[1], free, size

    def families(self, sample: Sample) -> Iterator[Metric]:
        """The scrape-time metric families: peers, elections, disk."""
        peers, _catching, height, _best = sample
        up = GaugeMetricFamily("ballotchain_peer_up", "1 if the peer answered its last tip poll",
                               labels=["peer"])
        ph = GaugeMetricFamily("ballotchain_peer_height", "The peer's last reported height",
                               labels=["peer"])
        lag = GaugeMetricFamily("ballotchain_peer_lag_blocks",
                                "This node's height minus the peer's (positive: the peer is behind)",
                                labels=["peer"])
        for p in peers:
            up.add_metric([p.name], 1 if p.reachable else 0)
            if p.height is not None:
                ph.add_metric([p.name], p.height)
                lag.add_metric([p.name], height - p.height)
        yield from (up, ph, lag)
        fams = {
            "phase": GaugeMetricFamily(
                "ballotchain_election_phase",
                "Election phase: 0 ceremony, 1 open, 2 closed, 3 decided", labels=["election"]),
            "registered": GaugeMetricFamily("ballotchain_election_registered",
                                            "Voters registered", labels=["election"]),
            "ballots": GaugeMetricFamily("ballotchain_election_ballots",
                                         "Ballots cast (re-votes included)", labels=["election"]),
            "voted": GaugeMetricFamily("ballotchain_election_voters_voted",
                                       "Distinct voters with a counted ballot", labels=["election"]),
        }
        for full, phase, (registered, ballots, voted, _spoiled) in self.ops.elections():
            eid = full.hex()[:16]
            fams["phase"].add_metric([eid], phase)
            fams["registered"].add_metric([eid], registered)
            fams["ballots"].add_metric([eid], ballots)
            fams["voted"].add_metric([eid], voted)
        yield from fams.values()
        used, free, size = self.disk()
        yield GaugeMetricFamily("ballotchain_data_dir_bytes", "Bytes in the node's data directory",
                                value=used)
        yield GaugeMetricFamily("ballotchain_data_fs_free_bytes",
                                "Free bytes on the data directory's file system", value=free)
        yield GaugeMetricFamily("ballotchain_data_fs_size_bytes",
                                "Size of the data directory's file system", value=size)
