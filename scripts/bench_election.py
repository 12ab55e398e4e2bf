"""A whole election rehearsed on a 4+1 localnet and measured phase by phase.

Sizes default to the Tsukuba 2024 mayoral evaluation's electorate (130,000 voters
registered with one-time codes) and 20,000 demo ballots; ``--quick`` runs a small
election (2,000 voters, 200 ballots) in a few minutes.

Phases, each with its wall time, the node processes' CPU (event-loop processes and
their verification workers), and at the end the nodes' peak memory and data size:

1. create the demo election and run the trustees' key ceremony (3 trustees, threshold 2);
2. register every voter by one-time code (``CommitCodes`` batches of 1,000);
3. open; cast the ballots through every node (4 validators and the observer, which
   forwards) with ``--concurrency`` clients; ballots are encrypted beforehand on all
   cores, as voters' devices would;
4. close; two trustees post decryption shares; the result is published;
5. export the election record from the observer (``ballotchain election export``) and
   audit it offline (``ballotchain audit --record``), then audit the observer's database
   (``ballotchain audit --data``);
6. check the published counts against the plaintext of every ballot cast.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from ballot_tx.codec import decode, encode, hash_bytes  # noqa: E402
from ballot_tx.crypto import ballot as ballot_crypto  # noqa: E402
from ballot_tx.crypto import decryption  # noqa: E402
from ballot_tx.crypto import tally as tally_crypto  # noqa: E402
from ballot_tx.eligibility.one_time_code import CommitCodes, code_from_seed, code_keys  # noqa: E402
from ballot_tx.manifest import Manifest, election_id  # noqa: E402
from ballot_tx.tx import (  # noqa: E402
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
)
from genesis.localnet import DEFAULT_PARAMS  # noqa: E402
from harness.ceremony import honest_ceremony  # noqa: E402
from harness.procstat import cpu_seconds, family  # noqa: E402
from harness.scenario import demo_manifest, plaintext_counts, random_selections  # noqa: E402
from harness.txgen import NetKeys  # noqa: E402
from node import localnet as ln  # noqa: E402
from node.homes import make_network  # noqa: E402

PARAMS = dataclasses.replace(DEFAULT_PARAMS, view_timeout_ms=4000)
DAY = 86_400_000


# --- process measurements (Linux /proc) ------------------------------------------------


def peak_rss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


class Phases:
    """Wall time and node CPU per phase, printed as each ends."""

    def __init__(self, nodes: list[ln.LocalNode]) -> None:
        self.nodes = nodes
        self.rows: list[tuple[str, float, float, str]] = []

    def pids(self) -> list[int]:
        return [p for n in self.nodes if (pid := n.pid()) for p in family(pid)]

    def run(self, name: str, fn: Callable[[], str | None]) -> None:
        pids = self.pids()
        c0, w0 = cpu_seconds(pids), time.monotonic()
        note = fn() or ""
        wall, cpu = time.monotonic() - w0, cpu_seconds(pids) - c0
        self.rows.append((name, wall, cpu, note))
        print(f"{name:<34} {wall:8.1f} s wall  {cpu:8.1f} s node CPU  {note}", flush=True)


# --- the election --------------------------------------------------------------------


def _encrypt(args: tuple[Manifest, bytes, tuple[bytes, bytes], bytes, tuple[tuple[int, ...], ...]]) -> bytes:
    m, joint, secret, chain_id, sel = args
    from ballot_tx.keys import KeyPair
    from ballot_tx.tx import sign_tx

    k = KeyPair(*secret)
    b, _ = ballot_crypto.encrypt_ballot(m, joint, k.ed25519_public, sel)
    return encode(sign_tx(k, chain_id, CastBallot(election_id(m), b), int(time.time() * 1000) + DAY // 2))


async def post(s: aiohttp.ClientSession, url: str, raw: bytes, wait: bool = True) -> tuple[int, Any]:
    q = "?wait=commit" if wait else ""
    async with s.post(f"{url}/v1/txs{q}", data=raw, headers={"Content-Type": "application/msgpack"}) as r:
        return r.status, await r.json()


async def commit_all(s: aiohttp.ClientSession, urls: list[str], txs: list[bytes], conc: int = 16) -> None:
    """Commit ``txs`` (each must succeed), then wait until every node has the last block."""
    sem = asyncio.Semaphore(conc)

    async def one(i: int, raw: bytes) -> int:
        async with sem:
            status, doc = await post(s, urls[i % len(urls)], raw)
            if status != 200:
                raise SystemExit(f"transaction refused: {status} {doc}")
            return int(doc["height"])

    top = max(await asyncio.gather(*(one(i, t) for i, t in enumerate(txs))))
    for url in urls:
        while True:
            async with s.get(f"{url}/v1/status") as r:
                if (await r.json())["height"] >= top:
                    break
            await asyncio.sleep(0.05)


async def cast_all(s: aiohttp.ClientSession, urls: list[str], ballots: list[bytes], conc: int) -> tuple[int, list[float]]:
    it = iter(enumerate(ballots))
    failed = 0
    lat: list[float] = []

    async def client() -> None:
        nonlocal failed
        for i, raw in it:
            t0 = time.monotonic()
            status, _ = await post(s, urls[i % len(urls)], raw)
            if status == 200:
                lat.append(time.monotonic() - t0)
            else:
                failed += 1

    await asyncio.gather(*(client() for _ in range(conc)))
    return failed, lat


def cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"ballotchain {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


async def election(args: argparse.Namespace, net_dir: Path) -> None:
    base = ln.free_base_port(5)
    make_network(net_dir, "bench-election", 4, 1, base, params=PARAMS)
    for home in sorted(net_dir.glob("*-*")):
        cfg = home / "config.toml"
        if cfg.exists():
            text = cfg.read_text().replace("client_rate_per_s = 200", "client_rate_per_s = 1000000")
            cfg.write_text(text.replace("mempool_max_txs = 20000", "mempool_max_txs = 1000000"))
    nodes = ln.discover(net_dir)
    keys = NetKeys(net_dir)
    cid = keys.chain_id
    urls = [n.url for n in nodes]
    load0 = os.getloadavg()
    print(f"4+1 localnet in {net_dir}; {args.voters} voters, {args.ballots} ballots, "
          f"{args.concurrency} clients; {os.cpu_count()} cores, load average {load0[0]:.1f}")
    phases = Phases(nodes)
    for n in nodes:
        ln.start(n)
    try:
        ln.wait_ready(nodes, 90)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as s:
            loop = asyncio.get_running_loop()

            def run(coro: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(coro, loop).result()

            now = int(time.time() * 1000)
            m = demo_manifest(keys.trustees, now, now + DAY, "one-time-code", rating=True, name=f"rehearsal-{now}")
            eid = election_id(m)
            ceremony: dict[str, Any] = {}

            def create() -> str:
                run(commit_all(s, urls[:4], [encode(keys.sign(keys.admin, CreateElection(m)))]))
                done = honest_ceremony(m, keys.trustees)
                for _step, bodies in done.postings():
                    run(commit_all(s, urls[:4], [encode(keys.sign(keys.trustees[i - 1], body))
                                                 for i, body in sorted(bodies.items())]))
                ceremony["done"] = done
                return f"election {eid.hex()[:16]}"

            await loop.run_in_executor(None, phases.run, "1 create + key ceremony", create)

            salt = hash_bytes("rehearsal-salt", eid)
            voter_seeds: list[tuple[bytes, bytes]] = []

            def register() -> str:
                t0 = time.monotonic()
                with concurrent.futures.ProcessPoolExecutor() as pool:
                    codes = [code_from_seed(eid, i) for i in range(args.voters)]
                    kps = list(pool.map(_code_pair, [(eid, salt, c) for c in codes], chunksize=2000))
                derive = time.monotonic() - t0
                voter_seeds.extend(seed for seed, _ in kps[: args.ballots])
                pubs = [pub for _, pub in kps]
                txs = [encode(keys.sign(keys.registrar, CommitCodes(eid, salt, tuple(pubs[i:i + 1000]))))
                       for i in range(0, len(pubs), 1000)]
                run(commit_all(s, urls[:4], txs, conc=4))
                return f"{len(txs)} CommitCodes transactions (code keys derived in {derive:.1f} s, not node time)"

            await loop.run_in_executor(None, phases.run, f"2 register {args.voters} voters by code", register)
            await commit_all(s, urls[:4], [encode(keys.sign(keys.admin, OpenElection(eid)))])
            async with s.get(f"{urls[0]}/v1/elections/{eid.hex()}") as r:
                joint = bytes.fromhex((await r.json())["status"]["joint_key"])

            rnd = random.Random(11)
            sels = [random_selections(m, rnd) for _ in range(args.ballots)]
            t0 = time.monotonic()
            with concurrent.futures.ProcessPoolExecutor() as pool:
                ballots = list(pool.map(_encrypt, [(m, joint, voter_seeds[i], cid, sels[i])
                                                   for i in range(args.ballots)], chunksize=20))
            print(f"  (encrypted {len(ballots)} ballots of {len(ballots[0])} bytes on the client's cores "
                  f"in {time.monotonic() - t0:.1f} s)", flush=True)

            def cast() -> str:
                t0 = time.monotonic()
                failed, lat = run(cast_all(s, urls, ballots, args.concurrency))
                wall = time.monotonic() - t0
                lat.sort()
                p50 = lat[len(lat) // 2] if lat else 0.0
                p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0
                if failed:
                    raise SystemExit(f"{failed} ballots refused")
                return f"{len(lat) / wall:.1f} ballots/s committed; latency p50 {p50:.2f} s, p99 {p99:.2f} s"

            await loop.run_in_executor(None, phases.run, f"3 cast {args.ballots} ballots via {len(urls)} nodes", cast)

            result_box: dict[str, Any] = {}

            def close_decrypt_publish() -> str:
                run(commit_all(s, urls[:4], [encode(keys.sign(keys.admin, CloseElection(eid)))]))

                async def tally() -> tally_crypto.EncryptedTally:
                    async with s.get(f"{urls[0]}/v1/elections/{eid.hex()}") as r:
                        return decode(tally_crypto.EncryptedTally, bytes.fromhex((await r.json())["tally_bytes"]))

                t = run(tally())
                dshares = ceremony["done"].decryption_shares(t, (1, 3))
                run(commit_all(s, urls[:4], [encode(keys.sign(keys.trustees[x.trustee - 1], PostDecryptionShare(eid, x)))
                                             for x in dshares]))
                result = decryption.decrypt_tally(m, ceremony["done"].qualified, t, dshares)
                run(commit_all(s, urls[:4], [encode(keys.sign(keys.admin, PublishResult(eid, result)))]))
                result_box["result"] = result
                return "trustees 1 and 3 decrypted"

            await loop.run_in_executor(None, phases.run, "4 close + decrypt + publish", close_decrypt_publish)

            def export_and_audit() -> str:
                rec = net_dir.parent / "record"
                if rec.exists():
                    shutil.rmtree(rec)
                t0 = time.monotonic()
                cli("election", "export", eid.hex(), "--out", str(rec), "--genesis", str(net_dir / "genesis.json"),
                    "--node", urls[4])
                t1 = time.monotonic()
                cli("audit", "--record", str(rec))
                t2 = time.monotonic()
                return f"export {t1 - t0:.1f} s, audit --record {t2 - t1:.1f} s (CLI processes, not node CPU)"

            await loop.run_in_executor(None, phases.run, "5a export + audit --record", export_and_audit)
        peak = {n.name: peak_rss_mb(family(n.pid() or 0)) for n in nodes}
        data = {n.name: dir_mb(n.home / "data") for n in nodes}
        ln.stop(nodes[4], 10)

        def audit_data() -> str:
            t0 = time.monotonic()
            cli("audit", "--data", str(nodes[4].home))
            return f"audit --data (observer's database) {time.monotonic() - t0:.1f} s"

        await loop.run_in_executor(None, phases.run, "5b audit --data", audit_data)
        published = result_box["result"]
        expected = plaintext_counts(m, sels)
        ok = tuple(tuple(c) for c in published.counts) == expected
        print(f"6 result equals the plaintext of every ballot cast: {'yes' if ok else 'NO'}")
        print("peak memory (node + workers, MB): " + ", ".join(f"{k} {v:.0f}" for k, v in peak.items()))
        print("data size (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in data.items()))
        print(f"load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
        if not ok:
            raise SystemExit("the published result differs from the plaintext")
    finally:
        for n in nodes:
            ln.stop(n, 10)


def _code_pair(a: tuple[bytes, bytes, str]) -> tuple[tuple[bytes, bytes], bytes]:
    """A code's voter key (what the voter's device derives) and its public key."""
    eid, salt, code = a
    k = code_keys(eid, salt, code)
    return (k.ed25519_seed, k.x25519_secret), k.ed25519_public


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=130_000)
    ap.add_argument("--ballots", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=64, help="concurrent voting clients")
    ap.add_argument("--quick", action="store_true", help="2,000 voters, 200 ballots")
    ap.add_argument("--dir", type=Path, help="keep the network here (default: a temp dir)")
    args = ap.parse_args()
    if args.quick:
        args.voters, args.ballots = 2_000, 200
    args.ballots = min(args.ballots, args.voters)
    if args.dir is not None:
        asyncio.run(election(args, args.dir / "net"))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-election-") as d:
            asyncio.run(election(args, Path(d) / "net"))


if __name__ == "__main__":
    main()
