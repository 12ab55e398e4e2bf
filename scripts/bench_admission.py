"""One node's admission rate with 0, 1 and 2 verification workers, in one run.

A 4-validator localnet (processes on loopback) opens one election; then the other
three validators are stopped, so that what is measured is one node's admission alone
(without a quorum nothing commits, and no other node competes for the cores). For
each round and each worker count (alternating, so that the machine's other load is
spread over all of them), the node is restarted with ``[limits] verify_workers`` set,
and ``--ballots`` pre-encrypted ballots are posted with ``--concurrency`` requests in
flight, without waiting for commits: the rate is ballots admitted (HTTP 202) per
second of wall clock. The node's CPU is split between its event-loop process and
its worker processes (Linux /proc), so the figures can be read on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from ballot_tx.codec import encode, hash_bytes  # noqa: E402
from ballot_tx.crypto import ballot as ballot_crypto  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from ballot_tx.tx import CastBallot  # noqa: E402
from genesis.localnet import DEFAULT_PARAMS  # noqa: E402
from harness.procstat import children, cpu_seconds  # noqa: E402
from harness.scenario import demo_manifest, random_selections  # noqa: E402
from harness.txgen import NetKeys, election_setup  # noqa: E402
from node import localnet as ln  # noqa: E402
from node.homes import make_network  # noqa: E402

PARAMS = dataclasses.replace(DEFAULT_PARAMS, view_timeout_ms=4000)


async def post(s: aiohttp.ClientSession, url: str, raw: bytes, wait: bool) -> tuple[int, Any]:
    q = "?wait=commit" if wait else ""
    async with s.post(f"{url}/v1/txs{q}", data=raw, headers={"Content-Type": "application/msgpack"}) as r:
        return r.status, await r.json()


async def admit_all(s: aiohttp.ClientSession, url: str, ballots: list[bytes], conc: int) -> tuple[float, int]:
    ok = failed = 0
    it = iter(ballots)

    async def worker() -> None:
        nonlocal ok, failed
        for raw in it:
            status, _ = await post(s, url, raw, False)
            if status == 202:
                ok += 1
            else:
                failed += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return ok / (time.monotonic() - t0), failed


def set_workers(node: ln.LocalNode, n: int) -> None:
    cfg = node.home / "config.toml"
    lines = [ln_ for ln_ in cfg.read_text().splitlines() if not ln_.startswith("verify_workers")]
    i = lines.index("[limits]")
    lines.insert(i + 1, f"verify_workers = {n}")
    cfg.write_text("\n".join(lines) + "\n")


async def bench(args: argparse.Namespace, net_dir: Path) -> None:
    base = ln.free_base_port(1)
    make_network(net_dir, "bench-admission", 4, 0, base, params=PARAMS)
    nodes = ln.discover(net_dir)
    node = nodes[0]
    for nd in nodes:
        cfg = nd.home / "config.toml"
        text = cfg.read_text().replace("client_rate_per_s = 200", "client_rate_per_s = 1000000")
        cfg.write_text(text.replace("mempool_max_txs = 20000", "mempool_max_txs = 1000000"))
        set_workers(nd, 0)
    keys = NetKeys(net_dir)
    counts = [int(x) for x in args.workers.split(",")]
    warm = 6
    total = (args.ballots + warm) * args.rounds * len(counts)
    print(f"4-validator localnet in {net_dir}, one node measured, {os.cpu_count()} cores; worker counts {counts}, "
          f"{args.rounds} rounds of {args.ballots} ballots each")
    for nd in nodes:
        ln.start(nd)
    try:
        ln.wait_ready(nodes, 60)
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as s:
            now = int(time.time() * 1000)
            m = demo_manifest(keys.trustees, now, now + 86_400_000, rating=not args.simple, name=f"adm-{now}")
            voters = [KeyPair.from_seed(hash_bytes("adm-voter", m.name.encode() + i.to_bytes(4, "big")))
                      for i in range(total)]
            loop = asyncio.get_running_loop()

            def run(txs: list[bytes]) -> None:
                async def go() -> None:
                    for status, doc in await asyncio.gather(*(post(s, node.url, t, True) for t in txs)):
                        if status != 200:
                            raise SystemExit(f"setup transaction refused: {status} {doc}")
                asyncio.run_coroutine_threadsafe(go(), loop).result()
                time.sleep(0.5)  # let every validator hold the block before the next step

            eid = await loop.run_in_executor(None, election_setup, keys, m, voters, run)
            for other in nodes[1:]:
                ln.stop(other, 10)
            async with s.get(f"{node.url}/v1/elections/{eid.hex()}") as r:
                joint = bytes.fromhex((await r.json())["status"]["joint_key"])
            rnd = random.Random(1)
            t0 = time.perf_counter()
            ballots = []
            for v in voters:
                b, _ = ballot_crypto.encrypt_ballot(m, joint, v.ed25519_public, random_selections(m, rnd))
                ballots.append(encode(keys.sign(v, CastBallot(eid, b))))
            print(f"encrypted {total} ballots ({len(ballots[0])} bytes each, "
                  f"{'simple' if args.simple else 'demo'} ballot) in {time.perf_counter() - t0:.1f} s")
            rates: dict[int, list[float]] = {n: [] for n in counts}
            cpus: dict[int, list[tuple[float, float]]] = {n: [] for n in counts}
            k = 0
            for rnd_i in range(args.rounds):
                for n in counts:
                    ln.stop(node, 10)
                    set_workers(node, n)
                    ln.start(node)
                    ln.wait_ready([node], 60)
                    # a new client per node start (no stale keep-alive connections); a
                    # warm-up, so the workers have imported the crypto and seen the election
                    async with aiohttp.ClientSession(
                        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
                    ) as s2:
                        await admit_all(s2, node.url, ballots[k: k + warm], warm)
                        k += warm
                        pid = node.pid() or 0
                        workers = children(pid)
                        c0 = cpu_seconds([pid]), cpu_seconds(workers)
                        batch = ballots[k: k + args.ballots]
                        k += args.ballots
                        rate, failed = await admit_all(s2, node.url, batch, args.concurrency)
                    c1 = cpu_seconds([pid]), cpu_seconds(workers)
                    loop_cpu, work_cpu = c1[0] - c0[0], c1[1] - c0[1]
                    rates[n].append(rate)
                    cpus[n].append((loop_cpu, work_cpu))
                    print(f"  round {rnd_i + 1}, {n} workers: {rate:7.1f} ballots/s admitted "
                          f"({failed} refused); CPU: node loop {loop_cpu:5.1f} s, workers "
                          f"{work_cpu:5.1f} s ({1000 * (loop_cpu + work_cpu) / max(1, len(batch)):.1f} ms/ballot)",
                          flush=True)
        print("admission rate (wall clock, mean of rounds); CPU per ballot; and the capacity those CPU")
        print("costs give when each process has a core: 1 / max(loop, workers / n)")
        cap: dict[int, float] = {}
        for n in counts:
            mean = sum(rates[n]) / len(rates[n])
            lc = sum(c[0] for c in cpus[n]) / (args.ballots * len(cpus[n]))
            wc = sum(c[1] for c in cpus[n]) / (args.ballots * len(cpus[n]))
            cap[n] = 1 / max(lc, wc / n if n else 0.0)
            print(f"  {n} workers: {mean:7.1f} ballots/s   loop {1000 * lc:5.2f} ms + workers "
                  f"{1000 * wc:5.2f} ms per ballot   capacity {cap[n]:7.1f} ballots/s")
        if 1 in rates and 2 in rates:
            r1, r2 = (sum(rates[n]) / len(rates[n]) for n in (1, 2))
            print(f"2 workers / 1 worker = x{r2 / r1:.2f} wall clock, x{cap[2] / cap[1]:.2f} capacity "
                  f"(aim >= 1.8; this host: {os.cpu_count()} cores, load average "
                  f"{os.getloadavg()[0]:.1f})")
        if 0 in rates and 1 in rates:
            r0, r1 = (sum(rates[n]) / len(rates[n]) for n in (0, 1))
            print(f"1 worker / inline    = x{r1 / r0:.2f} wall clock, x{cap[1] / cap[0]:.2f} capacity")
    finally:
        for nd in nodes:
            ln.stop(nd, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ballots", type=int, default=300, help="ballots per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds over the worker counts")
    ap.add_argument("--workers", default="0,1,2", help="worker counts to compare (comma separated)")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    ap.add_argument("--simple", action="store_true", help="one single-choice contest (no rating)")
    ap.add_argument("--dir", type=Path, help="keep the network here (default: a temp dir)")
    args = ap.parse_args()
    if args.dir is not None:
        asyncio.run(bench(args, args.dir))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-admission-") as d:
            asyncio.run(bench(args, Path(d) / "net"))


if __name__ == "__main__":
    main()
