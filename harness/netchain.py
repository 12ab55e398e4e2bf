"""The election scenario's chain interface, carried over a running network's HTTP API.

``harness.scenario.run_election`` drives an election through a chain object with
``chain_id``, ``next_time()``, ``run(txs)`` and ``state`` (``election``,
``tally``, ``result``, ``height``). ``LocalChain`` implements it in-process;
``NetworkChain`` implements it against real nodes: ``run`` posts every
transaction with ``?wait=commit`` (round robin over the validators) and the
reads decode the canonical bytes the API serves. Transactions of one signer are
sent in their order, one wave after another, because order matters for them
(a re-vote must land after the first ballot); different signers go in parallel.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ballot_tx.codec import decode, encode
from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.crypto.tally import EncryptedTally
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.state.records import ElectionStatus
from ballot_tx.tx import Tx
from harness.txgen import post_tx


class NetworkError(BallotchainError):
    """A node refused a transaction or could not be reached."""


def _get(url: str) -> Any | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - node URLs from config
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise NetworkError(ErrorCode.NODE_UNAVAILABLE, f"{url}: HTTP {e.code}") from None
    except (OSError, ValueError) as e:
        raise NetworkError(ErrorCode.NODE_UNAVAILABLE, f"{url}: {e}") from None


class NetworkState:
    """Typed reads of the tip state through one node's API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.min_height = 0  # reads wait until the node has at least this block

    def _caught_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.height < self.min_height:
            if time.monotonic() > deadline:
                raise NetworkError(ErrorCode.NODE_UNAVAILABLE,
                                   f"{self.url} did not reach height {self.min_height}")
            time.sleep(0.05)

    @property
    def height(self) -> int:
        doc = _get(f"{self.url}/v1/status")
        return 0 if doc is None else int(doc["height"])

    def _election(self, eid: bytes) -> dict[str, Any] | None:
        self._caught_up()
        doc = _get(f"{self.url}/v1/elections/{eid.hex()}")
        return doc if isinstance(doc, dict) else None

    def election(self, eid: bytes) -> ElectionStatus | None:
        doc = self._election(eid)
        return None if doc is None else decode(ElectionStatus, bytes.fromhex(doc["status_bytes"]))

    def tally(self, eid: bytes) -> EncryptedTally | None:
        doc = self._election(eid)
        if doc is None or doc.get("tally_bytes") is None:
            return None
        return decode(EncryptedTally, bytes.fromhex(doc["tally_bytes"]))

    def result(self, eid: bytes) -> TallyResult | None:
        self._caught_up()
        doc = _get(f"{self.url}/v1/elections/{eid.hex()}/result")
        return None if doc is None else decode(TallyResult, bytes.fromhex(doc["result_bytes"]))


class NetworkChain:
    def __init__(self, chain_id: bytes, validator_urls: Sequence[str], read_url: str) -> None:
        self.chain_id = chain_id
        self.urls = list(validator_urls)
        self.state = NetworkState(read_url)
        self._next = 0

    def next_time(self) -> int:
        return int(time.time() * 1000)

    def _post(self, raw: bytes) -> bytes:
        url = self.urls[self._next % len(self.urls)]
        self._next += 1
        status, doc = post_tx(url, raw, wait=True, timeout=120)
        if status != 200 or doc.get("status") != "committed":
            code = doc.get("error", ErrorCode.NODE_UNAVAILABLE)
            raise NetworkError(code, f"{url} did not commit the transaction: {doc.get('message', status)}")
        self.state.min_height = max(self.state.min_height, int(doc["height"]))
        return bytes.fromhex(doc["tracking_code"])

    def run(self, txs: list[Tx]) -> list[bytes]:
        """Commit ``txs``; returns their tracking codes (transaction hashes), in order."""
        waves: list[list[int]] = []
        seen: dict[bytes, int] = {}
        for i, tx in enumerate(txs):
            k = seen.get(tx.signer, 0)
            seen[tx.signer] = k + 1
            if k == len(waves):
                waves.append([])
            waves[k].append(i)
        hashes: list[bytes] = [b""] * len(txs)
        with ThreadPoolExecutor(16) as pool:
            for wave in waves:
                for i, h in zip(wave, pool.map(lambda j: self._post(encode(txs[j])), wave), strict=True):
                    hashes[i] = h
                self._all_at(self.state.min_height)
        return hashes

    def _all_at(self, height: int, timeout: float = 30.0) -> None:
        """Wait until every validator has committed ``height``: the next transactions may
        depend on it and go to any of them (admission checks against the node's own tip)."""
        deadline = time.monotonic() + timeout
        for url in self.urls:
            while True:
                doc = _get(f"{url}/v1/status")
                if doc is not None and int(doc["height"]) >= height:
                    break
                if time.monotonic() > deadline:
                    raise NetworkError(ErrorCode.NODE_UNAVAILABLE, f"{url} did not reach height {height}")
                time.sleep(0.05)
