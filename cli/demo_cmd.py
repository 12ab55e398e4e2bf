"""``ballotchain demo``: a whole election on a local network, end to end."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from genesis.document import genesis_hash
from genesis.localnet import DEFAULT_BASE_PORT, make_network


@click.command()
@click.option("--dir", "dir_", type=click.Path(path_type=Path), help="Keep everything here (default: a temporary directory, removed at the end).")
@click.option("--base-port", default=DEFAULT_BASE_PORT + 100, show_default=True, help="First loopback port.")
def demo(dir_: Path | None, base_port: int) -> None:
    """Run the demonstration election on a local 4-validator, 1-observer network."""
    tmp = None
    if dir_ is None:
        tmp = Path(tempfile.mkdtemp(prefix="ballotchain-demo-"))
        dir_ = tmp
    try:
        g, homes = make_network(dir_ / "net", "ballotchain-demo", 4, 1, base_port)
        click.echo(f"local network in {dir_ / 'net'}: chain {g.chain_id}, genesis {genesis_hash(g).hex()}")
        for h in homes:
            click.echo(f"  {h.name:12} {h.mode:9} {h.address}  id {h.node_id}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
