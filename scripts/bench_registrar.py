"""Registrations per second through the registrar service (ID-card requests over HTTP).

A 4-validator localnet, one registered-key election, ``ballotchain registrar serve`` as its
own process, and N card requests (EC cards from a test card authority) sent C at a time.
Prints the rate, the request latency (p50/p99) and how many RegisterKeys transactions
carried them (the batching). Everything runs on this machine; stops what it starts.

    scripts/bench_registrar [--requests 1000] [--concurrency 200] [--batch-wait-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from ballot_tx.eligibility.idcard import Card, make_registration  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from cli.card_authority import issue_card, make_crl, new_authority  # noqa: E402
from genesis.localnet import DEFAULT_PARAMS  # noqa: E402
from harness.netchain import NetworkChain  # noqa: E402
from harness.txgen import NetKeys  # noqa: E402
from harness.webpoll import PollRunner  # noqa: E402
from node import localnet as ln  # noqa: E402
from node.homes import make_network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


async def send(url: str, reqs: list[str], concurrency: int) -> tuple[float, list[float], set[str]]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    codes: set[str] = set()

    async def one(s: aiohttp.ClientSession, text: str) -> None:
        async with sem:
            t = time.perf_counter()
            async with s.post(f"{url}/v1/register/card", data=text,
                              headers={"Content-Type": "application/json"}) as r:
                doc = await r.json()
                if r.status != 200:
                    raise SystemExit(f"refused: {doc}")
            lat.append(time.perf_counter() - t)
            codes.add(doc["tracking_code"])

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        await asyncio.gather(*(one(s, r) for r in reqs))
    return time.perf_counter() - t0, lat, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--batch-wait-ms", type=int, default=200)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_network(root / "net", "benchreg", 4, 0, ln.free_base_port(4),
                     params=dataclasses.replace(DEFAULT_PARAMS, max_block_txs=200, block_interval_ms=100,
                                                view_timeout_ms=2000, checkpoint_interval=50))
        nodes = ln.discover(root / "net")
        proc = None
        try:
            for n in nodes:
                ln.start(n)
            ln.wait_ready(nodes, timeout=60)
            keys = NetKeys(root / "net")
            chain = NetworkChain(keys.chain_id, [n.url for n in nodes], nodes[0].url)
            trustees = [KeyPair.from_seed(bytes([0x71 + i]) * 32) for i in range(3)]
            poll = PollRunner(chain, keys.admin, keys.registrar, trustees).create(  # type: ignore[arg-type]
                "bench-registrar", "registered-key", images=False)
            now = datetime.now(UTC)
            ca = new_authority(now)
            (root / "ca.pem").write_bytes(ca.cert_pem())
            (root / "crl.pem").write_bytes(make_crl(ca, {}, now))
            t = time.perf_counter()
            reqs = []
            for i in range(a.requests):
                cert, key = issue_card(ca, 1000 + i, f"voter {i}", now - timedelta(days=1),
                                       now + timedelta(days=30), key_type="ec",
                                       birth_date=date(1950, 1, 1) + timedelta(days=i))
                card = Card(cert.public_bytes(serialization.Encoding.DER), key)
                reqs.append(make_registration(card, poll.eid, KeyPair.generate().ed25519_public).to_json())
            print(f"made {a.requests} card requests in {time.perf_counter() - t:.1f} s")
            port = ln.free_base_port(1, start=24000)
            cfg = root / "registrar.toml"
            cfg.write_text(f'[service]\nlisten = "127.0.0.1:{port}"\nelections = ["{poll.eid.hex()}"]\n'
                           f"batch_wait_ms = {a.batch_wait_ms}\n"
                           '[idcard]\nca_cert = "ca.pem"\ncrl = "crl.pem"\n[log]\nlevel = "warning"\n')
            proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "registrar", "serve", "--key",
                 str(root / "net" / "authorities" / "registrar.key"), "--node", nodes[0].url,
                 "--config", str(cfg)], env={**os.environ, "PYTHONPATH": str(ROOT)})
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/v1/registrar", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("the registrar service did not start") from None
                    time.sleep(0.1)
            wall, lat, codes = asyncio.run(send(url, reqs, a.concurrency))
            lat.sort()
            print(f"{a.requests} registrations in {wall:.2f} s: {a.requests / wall:.0f}/s, "
                  f"{len(codes)} transactions (batch wait {a.batch_wait_ms} ms), latency p50 "
                  f"{statistics.median(lat):.2f} s, p99 {lat[int(0.99 * (len(lat) - 1))]:.2f} s "
                  f"(concurrency {a.concurrency}, {os.cpu_count()} cores, "
                  f"load {os.getloadavg()[0]:.1f})")
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
            for n in nodes:
                if n.pid() is not None:
                    ln.stop(n)

if __name__ == "__main__":
    main()
