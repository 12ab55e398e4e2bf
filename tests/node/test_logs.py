"""Structured logs: JSON lines carry the fields; a node's log never contains its secret key."""

from __future__ import annotations

import json
from pathlib import Path

from node import logs


def test_json_and_text_lines(tmp_path: Path) -> None:
    f = tmp_path / "n.log"
    logs.setup("info", True, f)
    log = logs.get("t")
    log.info("committed", height=3, block=b"\x01\x02")
    log.debug("hidden")
    logs.setup("debug", False, f)
    log.warning("peer refused", peer="v1")
    lines = f.read_text().splitlines()
    doc = json.loads(lines[0])
    assert doc["event"] == "committed" and doc["height"] == 3 and doc["block"] == "0102"
    assert doc["level"] == "info" and doc["logger"] == "ballotchain.t"
    assert len(lines) == 2 and "peer refused peer=v1" in lines[1]
