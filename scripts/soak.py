"""Soak test: random faults under ballot load on a 4+1 localnet, then the invariants.

Not part of CI (it runs for minutes). ``scripts/soak --minutes N``:

1. A 4-validator, 1-observer localnet on loopback. Every node reaches every
   validator through a TCP proxy run by this script (``network.peers`` with
   ``NODE_ID@proxy``), so a partition is a proxy that refuses (closes at once)
   or black-holes (accepts, never answers) the victim's peer traffic in both
   directions, while clients still reach the victim directly.
2. One election, voters registered; ballots (encrypted in a thread) cast at
   ``--rate`` per second to random validators: 80% answered ``202`` (some with
   a 10 s expiry, so that expiry happens), 20% with ``?wait=commit``.
3. Every few seconds one fault for 4-10 s, then healed: kill -9 of a validator
   (then restarted), SIGSTOP pause, kill -9 of all validators (then all
   restarted), partition (refuse or black-hole), clock skew (a validator
   killed and restarted under libfaketime with its wall clock off by up to 45 %
   of the genesis ``time_precision_ms``, either way, so that any two clocks stay
   within the precision of each other, which is what the timeliness rule assumes
   of honest clocks: the network must not notice; it keeps the skew until a later
   fault restarts it; the monotonic clock is left alone). Recovery time after each heal:
   until every node is within 2 blocks of the others and above the tip seen at
   the heal.
4. After the last heal and a drain: no fork (every height's block hash equal on
   every node), nothing acknowledged lost (each ``200`` is committed at its
   height on the observer), every ``202`` committed or reported expired by the
   node that accepted it. Prints a summary; exits 1 if an invariant failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from ballot_tx.codec import encode, hash_bytes  # noqa: E402
from ballot_tx.crypto import ballot as ballot_crypto  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from ballot_tx.tx import VOTER_TX_LIFETIME_MS, CastBallot, sign_tx  # noqa: E402
from genesis.localnet import DEFAULT_PARAMS  # noqa: E402
from harness.proxy import Proxy, set_peers  # noqa: E402
from harness.scenario import demo_manifest, random_selections  # noqa: E402
from harness.txgen import NetKeys, election_setup, post_tx  # noqa: E402
from node import localnet as ln  # noqa: E402
from node.homes import make_network  # noqa: E402

PARAMS = dataclasses.replace(DEFAULT_PARAMS, max_block_txs=200, block_interval_ms=100,
                             view_timeout_ms=1000, checkpoint_interval=5)
FAULTS = ("kill9", "pause", "restart_all", "partition", "clockskew")
#: Debian's libfaketime (scripts/soak installs it); the MT variant, for a threaded node.
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
SHORT_EXPIRY_MS = 10_000


# --- bookkeeping -----------------------------------------------------------------------


@dataclass
class Book:
    accepted: list[tuple[str, int, int | None]] = field(default_factory=list)  # hash, node, expires
    committed: list[tuple[str, int]] = field(default_factory=list)  # hash, height
    answers: Counter[str] = field(default_factory=Counter)
    recoveries: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unrecovered: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)


class Ballots:
    """Encrypted ballots of distinct voters, made ahead in a thread (the slow part)."""

    def __init__(self, m: Any, eid: bytes, joint_key: bytes, voters: list[KeyPair]) -> None:
        self.m, self.eid, self.key, self.voters = m, eid, joint_key, voters
        self.ready: list[tuple[KeyPair, Any]] = []
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        rnd = random.Random(7)
        for v in self.voters:
            while len(self.ready) > 200 and not self.stop:
                time.sleep(0.05)
            if self.stop:
                return
            b, _ = ballot_crypto.encrypt_ballot(self.m, self.key, v.ed25519_public,
                                                random_selections(self.m, rnd))
            with self.lock:
                self.ready.append((v, b))

    def take(self) -> tuple[KeyPair, Any] | None:
        with self.lock:
            return self.ready.pop(0) if self.ready else None


# --- the run ---------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, net_dir: Path) -> None:
        self.args = args
        self.dir = net_dir
        self.rnd = random.Random(args.seed)
        self.book = Book()
        self.proxies: list[Proxy] = []
        self.nodes: list[ln.LocalNode] = []
        self.paused: set[int] = set()
        self.stopping = False

    # network -------------------------------------------------------------------------

    def make(self) -> None:
        base = ln.free_base_port(5)
        make_network(self.dir, "soak", 4, 1, base, params=PARAMS)
        keys = NetKeys(self.dir)
        ids = [v.node_id for v in keys.genesis.validators]
        pbase = ln.free_base_port(20)
        port = pbase
        homes = sorted(self.dir.glob("validator-*")) + sorted(self.dir.glob("observer-*"))
        for src, home in enumerate(homes):
            peers = []
            for dst in range(4):
                if dst == src:
                    continue
                self.proxies.append(Proxy(src, dst, port, base + dst))
                peers.append(f'"{ids[dst]}@127.0.0.1:{port}"')
                port += 1
            cfg = home / "config.toml"
            set_peers(cfg, peers)
            cfg.write_text(cfg.read_text().replace("client_rate_per_s = 200",
                                                   "client_rate_per_s = 100000"))
        self.keys = keys
        self.nodes = ln.discover(self.dir)

    def heights(self) -> dict[int, int | None]:
        out = {}
        for i, n in enumerate(self.nodes):
            s = None if i in self.paused else ln.status(n, 1.0)
            out[i] = None if s is None else int(s["height"])
        return out

    def setup_election(self) -> Ballots:
        urls = [n.url for n in self.nodes[:4]]

        def run(txs: list[bytes]) -> None:
            for i, t in enumerate(txs):
                status, doc = post_tx(urls[i % 4], t, wait=True, timeout=60)
                if status != 200:
                    raise SystemExit(f"setup transaction refused: {status} {doc}")
            top = max(h or 0 for h in self.heights().values())
            while min(h or 0 for h in list(self.heights().values())[:4]) < top:
                time.sleep(0.05)

        n_voters = int(self.args.rate * self.args.minutes * 60 * 1.3) + 100
        now = int(time.time() * 1000)
        m = demo_manifest(self.keys.trustees, now, now + 86_400_000, rating=True, name=f"soak-{now}")
        voters = [KeyPair.from_seed(hash_bytes("soak-voter", m.name.encode() + i.to_bytes(4, "big")))
                  for i in range(n_voters)]
        eid = election_setup(self.keys, m, voters, run)
        doc = ln.get_json(f"{urls[0]}/v1/elections/{eid.hex()}")
        print(f"election open with {n_voters} registered voters", flush=True)
        return Ballots(m, eid, bytes.fromhex(doc["status"]["joint_key"]), voters)

    # load ----------------------------------------------------------------------------

    async def load(self, s: aiohttp.ClientSession, ballots: Ballots) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while not self.stopping:
            await asyncio.sleep(self.rnd.expovariate(self.args.rate))
            item = ballots.take()
            if item is None:
                self.book.answers["no ballot ready"] += 1
                continue
            v, b = item
            short = self.rnd.random() < 0.1
            expires = int(time.time() * 1000) + (SHORT_EXPIRY_MS if short else VOTER_TX_LIFETIME_MS)
            raw = encode(sign_tx(v, self.keys.chain_id, CastBallot(ballots.eid, b), expires))
            node = self.rnd.randrange(4)
            wait = self.rnd.random() < 0.2
            t = asyncio.create_task(self.cast(s, node, raw, wait, expires))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def cast(self, s: aiohttp.ClientSession, node: int, raw: bytes, wait: bool,
                   expires: int) -> None:
        url = f"{self.nodes[node].url}/v1/txs" + ("?wait=commit" if wait else "")
        try:
            async with s.post(url, data=raw, headers={"Content-Type": "application/msgpack"},
                              timeout=aiohttp.ClientTimeout(total=40)) as r:
                doc = await r.json()
                status = r.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            self.book.answers[f"no answer ({type(e).__name__})"] += 1
            return
        self.book.answers[str(status) if status < 400 else f"{status} {doc.get('error')}"] += 1
        if status == 200:
            self.book.committed.append((doc["tracking_code"], int(doc["height"])))
        elif status == 202 or (status == 408 and doc.get("error") == "API_COMMIT_TIMEOUT"):
            code = doc.get("tracking_code") or doc["message"].split()[1]
            self.book.accepted.append((code, node, expires))

    # faults --------------------------------------------------------------------------

    def pid(self, i: int) -> int | None:
        return self.nodes[i].pid()

    async def fault(self, kind: str) -> None:
        victim = self.rnd.randrange(4)
        hold = self.rnd.uniform(4, 10)
        loop = asyncio.get_running_loop()
        label = kind
        if kind == "kill9":
            await loop.run_in_executor(None, ln.kill9, self.nodes[victim])
            await asyncio.sleep(hold)
            ln.start(self.nodes[victim])
        elif kind == "pause":
            pid = self.pid(victim)
            if pid is None:
                return
            os.kill(pid, signal.SIGSTOP)
            self.paused.add(victim)
            await asyncio.sleep(hold)
            os.kill(pid, signal.SIGCONT)
            self.paused.discard(victim)
        elif kind == "restart_all":
            for i in range(4):
                await loop.run_in_executor(None, ln.kill9, self.nodes[i])
            await asyncio.sleep(hold / 2)
            for i in range(4):
                ln.start(self.nodes[i])
        elif kind == "clockskew":
            # each clock within precision/2 of real time: any two within precision (the rule)
            skew_ms = self.rnd.choice((-1, 1)) * self.rnd.uniform(0.1, 0.45) * PARAMS.time_precision_ms
            label = "clockskew/" + ("behind" if skew_ms < 0 else "ahead")
            await loop.run_in_executor(None, ln.kill9, self.nodes[victim])
            ln.start(self.nodes[victim], extra_env={
                "LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME": f"{skew_ms / 1000:+.3f}",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"})
            print(f"  {label:20} validator-{victim}: wall clock {skew_ms:+.0f} ms", flush=True)
            await asyncio.sleep(hold)  # heal = the skewed node has run for a while
        elif kind == "partition":
            mode = self.rnd.choice(("refuse", "blackhole"))
            label = f"partition/{mode}"
            cut = [p for p in self.proxies if victim in (p.src, p.dst)]
            for p in cut:
                p.set(mode)
            await asyncio.sleep(hold)
            for p in cut:
                p.set("open")
        self.book.faults[label] += 1
        heal = time.monotonic()
        top = max((h or 0) for h in (await loop.run_in_executor(None, self.heights)).values())
        while time.monotonic() - heal < self.args.recovery_limit:
            hs = await loop.run_in_executor(None, self.heights)
            known = [h for h in hs.values() if h is not None]
            if len(known) == 5 and min(known) > top and max(known) - min(known) <= 2:
                self.book.recoveries[label].append(time.monotonic() - heal)
                print(f"  {label:20} validator-{victim} {hold:4.1f} s: recovered in "
                      f"{time.monotonic() - heal:5.1f} s (height {max(known)})", flush=True)
                return
            await asyncio.sleep(0.25)
        self.book.unrecovered.append(f"{label} of validator-{victim}")
        print(f"  {label:20} validator-{victim}: NOT recovered within {self.args.recovery_limit} s: {hs}",
              flush=True)

    async def faults(self) -> None:
        end = time.monotonic() + self.args.minutes * 60
        kinds = self.args.faults.split(",")
        while time.monotonic() < end:
            await asyncio.sleep(self.rnd.uniform(2, 5))
            await self.fault(self.rnd.choice(kinds))

    # checks --------------------------------------------------------------------------

    async def check(self, s: aiohttp.ClientSession) -> list[str]:
        bad: list[str] = []

        async def get(node: int, path: str) -> tuple[int, Any]:
            async with s.get(f"{self.nodes[node].url}{path}") as r:
                return r.status, await r.json()

        # drain: every 202 resolved (committed anywhere, or expired where it was accepted)
        deadline = time.monotonic() + self.args.drain
        unresolved = list(self.book.accepted)
        expired = 0
        while unresolved and time.monotonic() < deadline:
            left = []
            for code, node, _exp in unresolved:
                st, doc = await get(4, f"/v1/txs/{code}")
                if st == 200 and doc["status"] == "committed":
                    continue
                st, doc = await get(node, f"/v1/txs/{code}")
                if st == 200 and doc["status"] == "committed":
                    continue
                if st == 200 and doc["status"] == "expired":
                    expired += 1
                    continue
                left.append((code, node, _exp))
            unresolved = left
            if unresolved:
                await asyncio.sleep(2)
        for code, node, exp in unresolved:
            st, doc = await get(node, f"/v1/txs/{code}")
            bad.append(f"202 not resolved: {code[:16]} on validator-{node}: {st} "
                       f"{doc.get('status') or doc.get('error')} (expires in "
                       f"{(exp or 0) / 1000 - time.time():.0f} s)")
        self.expired = expired
        # no fork
        hs = self.heights()
        common = min(h or 0 for h in hs.values())
        sem = asyncio.Semaphore(32)

        async def hash_at(node: int, h: int) -> str:
            async with sem:
                st, doc = await get(node, f"/v1/blocks/{h}")
                return str(doc.get("hash"))

        for start in range(1, common + 1, 200):
            heights = range(start, min(common, start + 199) + 1)
            per = await asyncio.gather(*(asyncio.gather(*(hash_at(n, h) for h in heights))
                                         for n in range(5)))
            for k, h in enumerate(heights):
                if len({per[n][k] for n in range(5)}) != 1:
                    bad.append(f"fork at height {h}: {[per[n][k][:12] for n in range(5)]}")
        self.common = common
        # nothing acknowledged lost
        for code, height in self.book.committed:
            st, doc = await get(4, f"/v1/txs/{code}")
            if st != 200 or doc.get("status") != "committed" or doc.get("height") != height:
                bad.append(f"acknowledged commit lost: {code[:16]} at {height}: {st} {doc}")
        return bad

    # main ----------------------------------------------------------------------------

    async def run(self) -> int:
        self.make()
        for p in self.proxies:
            await p.start()
        try:
            for n in self.nodes:
                ln.start(n)
            await asyncio.get_running_loop().run_in_executor(None, ln.wait_ready, self.nodes, 60)
            ballots = await asyncio.get_running_loop().run_in_executor(None, self.setup_election)
            conn = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=conn,
                                             timeout=aiohttp.ClientTimeout(total=30)) as s:
                t0 = time.monotonic()
                load = asyncio.create_task(self.load(s, ballots))
                print(f"soak: {self.args.minutes} min of faults ({self.args.faults}) under "
                      f"{self.args.rate} ballots/s", flush=True)
                await self.faults()
                self.stopping = True
                ballots.stop = True
                await load
                ran = time.monotonic() - t0
                bad = await self.check(s)
            self.report(ran, bad)
            return 1 if bad or self.book.unrecovered else 0
        finally:
            for p in self.proxies:
                p.close()
            for n in self.nodes:
                pid = n.pid()
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)
                ln.stop(n, timeout=5)

    def report(self, ran: float, bad: list[str]) -> None:
        b = self.book
        print(f"\n=== soak summary: {ran / 60:.1f} min, {sum(b.faults.values())} faults, "
              f"{self.common} blocks ===")
        print("faults:     " + ", ".join(f"{k} {v}" for k, v in sorted(b.faults.items())))
        print("answers:    " + ", ".join(f"{k}: {v}" for k, v in sorted(b.answers.items())))
        print(f"acknowledged: {len(b.committed)} committed (200), {len(b.accepted)} accepted "
              f"(202/408), of which {self.expired} reported expired")
        for kind, xs in sorted(b.recoveries.items()):
            print(f"recovery after {kind:20}: n={len(xs):3} mean {statistics.mean(xs):5.1f} s, "
                  f"median {statistics.median(xs):5.1f} s, max {max(xs):5.1f} s")
        print(f"not recovered: {len(b.unrecovered)} {b.unrecovered[:5]}")
        print(f"forks: {sum('fork' in x for x in bad)}; acknowledged commits lost: "
              f"{sum('lost' in x for x in bad)}; 202s neither committed nor expired: "
              f"{sum('202' in x for x in bad)}")
        for x in bad[:20]:
            print("  " + x)
        print("RESULT: " + ("OK" if not bad and not b.unrecovered else "FAILED"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=4.0, help="ballots cast per second")
    ap.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    ap.add_argument("--recovery-limit", type=float, default=60.0,
                    help="seconds a heal may take before it counts as not recovered")
    ap.add_argument("--drain", type=float, default=90.0, help="seconds to wait for 202s at the end")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--dir", type=Path, default=None, help="keep the network here")
    args = ap.parse_args()
    for k in args.faults.split(","):
        if k not in FAULTS:
            ap.error(f"unknown fault {k!r}")
    if "clockskew" in args.faults.split(",") and not FAKETIME_LIB.exists():
        ap.error(f"the clockskew fault needs {FAKETIME_LIB} (Debian's libfaketime: "
                 "scripts/soak installs it as root), or leave clockskew out of --faults")
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(Soak(args, args.dir / "net").run())
    with tempfile.TemporaryDirectory(prefix="soak-") as d:
        return asyncio.run(Soak(args, Path(d) / "net").run())


if __name__ == "__main__":
    sys.exit(main())
