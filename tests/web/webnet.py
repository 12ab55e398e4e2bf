"""A real 4+1 localnet with polls ready for the browser test (harness/webpoll.py does the
officials', trustees' and registrar's part through the validators' API)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ballot_tx.keys import KeyPair
from genesis.localnet import DEFAULT_PARAMS
from harness.netchain import NetworkChain
from harness.txgen import NetKeys
from harness.webpoll import PollRunner
from node import localnet as ln
from node.homes import make_network

PARAMS = dataclasses.replace(
    DEFAULT_PARAMS, max_block_txs=200, block_interval_ms=100, view_timeout_ms=2000, checkpoint_interval=50
)
KEY_PASSWORD = "つくば-2026-pass"


class WebNet:
    def __init__(self, root: Path) -> None:
        make_network(root, "webtest", 4, 1, ln.free_base_port(5), params=PARAMS)
        self.root = root
        keys = NetKeys(root)
        self.nodes = ln.discover(root)
        self.validators = self.nodes[:4]
        self.observer = self.nodes[4]
        trustees = [KeyPair.from_seed(bytes([0x51 + i]) * 32) for i in range(3)]
        chain = NetworkChain(keys.chain_id, [n.url for n in self.validators], self.observer.url)
        self.polls = PollRunner(chain, keys.admin, keys.registrar, trustees)

    def start(self) -> None:
        for n in self.nodes:
            ln.start(n)
        ln.wait_ready(self.nodes, timeout=60)

    def stop(self) -> None:
        for n in self.nodes:
            if n.pid() is not None:
                ln.stop(n)
