"""``ballotchain demo``: a whole election on a local network, end to end.

The election runs over a real local network: 4 validators and 1 observer as
separate processes on 127.0.0.1 (``node.localnet``), every transaction posted
to the validators' HTTP API and committed by PBFT, each node keeping its own
LevelDB under ``<home>/data``. When the election is over the network is stopped
and the observer's database is audited from genesis like any auditor would
(``ballotchain audit --data <home>``). ``--in-process`` runs the same election
without processes or sockets (``harness.localchain``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from ballot_tx.crypto.summary import summarize
from ballot_tx.keys import KeyPair, dump_key_file
from cli.audit_cmd import print_report, run_data_audit
from cli.keyfile import load
from genesis.document import genesis_hash
from node.homes import make_network, write_private


@click.command()
@click.option("--dir", "dir_", type=click.Path(path_type=Path), help="Keep everything here (default: a temporary directory, removed at the end).")
@click.option("--base-port", default=0, help="First loopback port (default: a free range).")
@click.option("--voters", default=100, show_default=True, help="Number of registered voters.")
@click.option("--in-process", is_flag=True, help="Run the election in-process, without a network.")
@click.option("--web", is_flag=True, help="Then open polls to vote in with a browser and print their /vote/ address.")
def demo(dir_: Path | None, base_port: int, voters: int, in_process: bool, web: bool) -> None:
    """Run the demonstration election on a local 4-validator, 1-observer network."""
    from harness.localchain import LocalChain
    from harness.netchain import NetworkChain
    from harness.scenario import Roles, run_election
    from node import localnet as ln
    from node.store import Store

    tmp = None
    if dir_ is None:
        tmp = Path(tempfile.mkdtemp(prefix="ballotchain-demo-"))
        dir_ = tmp
    try:
        net = dir_ / "net"
        g, homes = make_network(net, "ballotchain-demo", 4, 1, base_port or ln.free_base_port(5))
        click.echo(f"local network in {net}: chain {g.chain_id}, genesis {genesis_hash(g).hex()}")
        for h in homes:
            click.echo(f"  {h.name:12} {h.mode:9} {h.address}  id {h.node_id}")
        admin = load(net / "authorities" / "admin.key", prompt=False)
        registrar = load(net / "authorities" / "registrar.key", prompt=False)
        (net / "trustees").mkdir(exist_ok=True)
        trustees = []
        for i in range(1, 4):
            kp = KeyPair.generate()
            write_private(net / "trustees" / f"trustee-{i}.key", dump_key_file(kp))
            trustees.append(kp)
        roles = Roles(admin, registrar, trustees)
        chain: LocalChain | NetworkChain
        if in_process:
            validator_keys = [load(h.path / "node.key", prompt=False) for h in homes if h.mode == "validator"]
            stores = [Store(h.path / "data", g) for h in homes]
            try:
                chain = LocalChain(g, validator_keys, stores, clock=lambda: int(time.time() * 1000))
                click.echo(f"running the election in-process, one LevelDB per node ({len(stores)} nodes)")
                t0 = time.monotonic()
                out = run_election(chain, roles, voters=voters, revoters=max(1, voters // 10),
                                   rating=True, log=lambda s: click.echo(f"  {s}"))
                elapsed = time.monotonic() - t0
                height = chain.state.height
            finally:
                for s in stores:
                    s.close()
        else:
            nodes = ln.discover(net)
            try:
                for nd in nodes:
                    ln.start(nd)
                ln.wait_ready(nodes, timeout=60)
                click.echo(f"network up: {len(nodes)} node processes, logs in each home's node.log")
                chain = NetworkChain(genesis_hash(g), [nd.url for nd in nodes[:4]], nodes[-1].url)
                t0 = time.monotonic()
                out = run_election(chain, roles, voters=voters,
                                   revoters=max(1, voters // 10),
                                   rating=True, log=lambda s: click.echo(f"  {s}"))
                elapsed = time.monotonic() - t0
                if web:
                    from cli.web_demo import run_web_poll

                    run_web_poll(chain, admin, registrar, trustees, nodes[0].url, dir_ / "web-voters")
                _wait_same_height(ln, nodes)
                height = chain.state.height
            finally:
                for nd in nodes:
                    ln.stop(nd, 10)
            click.echo("network stopped (SIGTERM); every node's LevelDB is in its home's data/")
        click.echo(f"{height} blocks committed in {elapsed:.1f} s")
        click.echo("tally (published and verified on chain):")
        for c in summarize(out.manifest, out.result):
            if c.kind == "rating":
                for oid, hist, mean in zip(c.option_ids, c.histograms, c.means, strict=True):
                    m = "-" if mean is None else f"{mean:.1f}"
                    click.echo(f"  {c.contest_id}/{oid}: mean {m}  histogram 0..100: {list(hist)}")
            else:
                for oid, n in zip(c.option_ids, c.counts, strict=True):
                    click.echo(f"  {c.contest_id}/{oid}: {n}")
        click.echo(
            "plaintext tally of the last ballot of each voter: "
            + ("equal to the published result" if out.matches else "DIFFERENT from the published result")
        )
        observer = next(h for h in homes if h.mode == "observer")
        click.echo(f"auditing {observer.name}'s database from genesis ({observer.path / 'data'}):")
        print_report(run_data_audit(observer.path))
        if not out.matches:
            raise click.ClickException("the published result does not equal the plaintext tally")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _wait_same_height(ln: Any, nodes: list[Any], timeout: float = 20.0) -> None:
    """Let the observer (and any lagging validator) reach the tip before stopping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hs = {(ln.status(n) or {}).get("height") for n in nodes}
        if len(hs) == 1 and None not in hs:
            return
        time.sleep(0.2)
