"""The PromQL shipped in deploy/: the alert rules and the Grafana dashboard's queries."""

from __future__ import annotations

import json
import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
_NAME = re.compile(r"\b((?:ballotchain|process)_[a-z_]+)\b")


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def metric_families_used() -> set[str]:
    """Metric family names the alerts and the dashboard query (suffixes removed)."""
    text = ALERTS.read_text() + "\n".join(dashboard_queries())
    out = set()
    for name in _NAME.findall(text):
        for suffix in ("_bucket", "_total", "_count", "_sum"):
            name = name.removesuffix(suffix)
        out.add(name)
    return out
