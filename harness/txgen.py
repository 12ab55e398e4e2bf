"""Signed transactions for exercising a network: tests, ``scripts/bench_network``.

``create_elections`` makes cheap, independent admin transactions (one new
election each); ``BallotElection`` drives one election through its ceremony
and registration over the HTTP API, then makes ballots: the expensive kind,
whose proofs dominate a real election's load.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ballot_tx.codec import encode, hash_bytes
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.keys import KeyPair, load_key_file
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.tx import (
    VOTER_TX_LIFETIME_MS,
    CreateElection,
    OpenElection,
    Tx,
    TxBody,
    sign_tx,
)
from genesis.document import Genesis, from_json, genesis_hash
from harness.ceremony import honest_ceremony
from harness.scenario import demo_manifest


def trustee_keys(n: int = 3) -> list[KeyPair]:
    return [KeyPair.from_seed(hash_bytes("txgen-trustee", bytes([i]))) for i in range(n)]


class NetKeys:
    """The genesis and authority keys of a local network directory."""

    def __init__(self, net_dir: Path) -> None:
        self.genesis: Genesis = from_json((net_dir / "genesis.json").read_text())
        self.chain_id = genesis_hash(self.genesis)
        self.admin = load_key_file((net_dir / "authorities" / "admin.key").read_text())
        self.registrar = load_key_file((net_dir / "authorities" / "registrar.key").read_text())
        self.trustees = trustee_keys()

    def sign(self, keys: KeyPair, body: TxBody) -> Tx:
        return sign_tx(keys, self.chain_id, body, int(time.time() * 1000) + VOTER_TX_LIFETIME_MS)


def create_elections(net: NetKeys, count: int, tag: str = "e") -> list[bytes]:
    """``count`` canonical CreateElection transactions (distinct elections)."""
    now = int(time.time() * 1000)
    out = []
    for i in range(count):
        m = demo_manifest(net.trustees, now, now + 86_400_000, rating=False, name=f"{tag}-{i}")
        out.append(encode(net.sign(net.admin, CreateElection(m))))
    return out


def post_tx(
    url: str, raw: bytes, wait: bool = False, timeout: float = 30.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """POST a transaction; returns (HTTP status, JSON answer)."""
    req = urllib.request.Request(
        f"{url}/v1/txs" + ("?wait=commit" if wait else ""),
        data=raw,
        headers={"Content-Type": "application/msgpack"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:  # noqa: S310 - loopback
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def election_setup(
    net: NetKeys, m: Manifest, voters: list[KeyPair], run: Callable[[list[bytes]], None]
) -> bytes:
    """Create ``m``, run the trustees' ceremony, register ``voters``, open it.

    ``run`` must commit the given transactions before returning (each step
    depends on the previous one). Returns the election id.
    """
    eid = election_id(m)
    run([encode(net.sign(net.admin, CreateElection(m)))])
    ceremony = honest_ceremony(m, net.trustees)
    for _step, bodies in ceremony.postings():
        run([encode(net.sign(net.trustees[i - 1], body)) for i, body in sorted(bodies.items())])
    entries = tuple(
        KeyEntry(v.ed25519_public, hash_bytes("txgen-card", eid + i.to_bytes(4, "big")))
        for i, v in enumerate(voters)
    )
    run([encode(net.sign(net.registrar, RegisterKeys(eid, entries[i:i + 500])))
         for i in range(0, len(entries), 500)])
    run([encode(net.sign(net.admin, OpenElection(eid)))])
    return eid
