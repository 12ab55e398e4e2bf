"""The answers of the peer API: what the ``/p2p/`` routes hand on to the node.

``PeerApi`` implements ``node.peer_routes.PeerBackend``: consensus messages go to the
driver, forwarded transactions to admission, and certified blocks are read from the
ledger for catch-up. Separate from ``node.client_api`` because peers and clients ask
different things under different trust, and from ``node.peer_routes`` because the
routes check the envelope while this decides what the node does with it.
"""

from __future__ import annotations

from ballot_tx.codec import encode, pack
from node.admission import Admission
from node.driver import ConsensusDriver
from node.ledger import Ledger


class PeerApi:
    """What ``/p2p/`` hands on (implements ``node.peer_routes.PeerBackend``): consensus messages
    to the driver, forwarded transactions to admission, certified blocks from the ledger."""

    def __init__(self, ledger: Ledger, admission: Admission, driver: ConsensusDriver | None) -> None:
        self.ledger = ledger
        self.admission = admission
        self.driver = driver

    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        if self.driver is not None:  # an observer runs no consensus
            self.driver.on_consensus(sender_index, payloads)

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None:
        self.admission.on_peer_txs(payloads)

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]:
        out: list[bytes] = []
        size = 0
        h = max(1, height)
        while len(out) < limit and h <= self.ledger.height:
            b = self.ledger.store.get_block(h)
            cert = self.ledger.store.get_certificate(h)
            if b is None or cert is None:
                break
            rec = pack([encode(b), cert])
            if out and size + len(rec) > max_bytes:
                break
            out.append(rec)
            size += len(rec)
            h += 1
        return out

    def tip(self) -> int:
        return self.ledger.height
