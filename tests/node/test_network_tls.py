"""A network whose listeners serve TLS (test CA), crashed again and again under load.

Every node serves its client API and peer routes over TLS with a certificate
from a throwaway CA, and dials its peers verifying that CA. Then, round after
round, a validator (the primary included) or the observer is killed with
SIGKILL at a random moment while clients wait for commits, and restarted. At
the end every acknowledged commit is in every node's chain, every node holds
byte-identical blocks, and no validator signed conflicting votes (a conflict
would have forked the chain or broken the certificates the observer verifies).
"""

from __future__ import annotations

import random
import ssl
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from node import localnet as ln
from tests.node.netutil import (
    assert_same_chain,
    back_at_tip,
    committed_everywhere,
    running,
    submit,
)


def test_tls_network_survives_repeated_kill9(tmp_path: Path) -> None:
    rnd = random.Random(2026)
    with running(tmp_path / "net", tls=True) as net:
        assert all(n.url.startswith("https://") for n in net.nodes)
        # a client that does not trust the CA is refused at the handshake
        with pytest.raises(urllib.error.URLError) as e:
            urllib.request.urlopen(f"{net.nodes[0].url}/v1/status", timeout=5)
        assert isinstance(e.value.reason, ssl.SSLError)
        first = submit(net, net.txs(10), net.nodes, wait=True)
        assert all(s == 200 for s, _ in first), first
        acks = list(first)
        victims = [net.primary(), rnd.choice(net.validators), net.observer]
        for victim in victims:
            others = [n for n in net.nodes if n is not victim]
            with ThreadPoolExecutor(1) as pool:
                load = pool.submit(submit, net, net.txs(15), others, True)
                time.sleep(rnd.uniform(0.0, 0.6))
                ln.kill9(victim)
                acks += load.result()
            ln.start(victim)
            back_at_tip(net, victim, others)
        assert all(s == 200 and d["status"] == "committed" for s, d in acks), acks
        assert_same_chain(net)
        committed_everywhere(net, acks)
