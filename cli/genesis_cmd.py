"""``ballotchain genesis``: create and verify a chain's genesis."""

from __future__ import annotations

from pathlib import Path

import click

from ballot_tx.errors import ErrorCode
from cli.common import Group, fail, read_text
from genesis.document import from_json, genesis_hash
from genesis.localnet import DEFAULT_BASE_PORT, make_network


@click.group(cls=Group)
def genesis() -> None:
    """Create and verify genesis documents."""


@genesis.command("new")
@click.option("--chain-id", required=True, help="Human name of the chain, e.g. tsukuba-2026.")
@click.option("--validators", default=4, show_default=True, help="Number of validators (3f+1, >= 4).")
@click.option("--observers", default=1, show_default=True, help="Number of read-only observers.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Directory for node homes.")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, help="First loopback port.")
def genesis_new(chain_id: str, validators: int, observers: int, out: Path, base_port: int) -> None:
    """Make one home directory per node (key, config.toml, genesis.json) under OUT."""
    if observers < 0:
        fail(ErrorCode.USAGE, "--observers must be >= 0")
    try:
        g, homes = make_network(out, chain_id, validators, observers, base_port)
    except FileExistsError as e:
        fail(ErrorCode.IO_ERROR, str(e))
    click.echo(f"chain {g.chain_id}: genesis hash {genesis_hash(g).hex()}")
    for h in homes:
        click.echo(f"  {h.name:12} {h.mode:9} {h.address:21} id {h.node_id}  {h.path}")
    click.echo(f"  authority keys: {out / 'authorities'}")


@genesis.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--expect", help="Fail unless the genesis hash equals this hex value.")
def genesis_verify(file: Path, expect: str | None) -> None:
    """Check FILE (n = 3f+1, unique ids, keys and addresses, well-formed keys) and print its hash."""
    g = from_json(read_text(file))
    h = genesis_hash(g).hex()
    if expect is not None and expect.lower() != h:
        fail(ErrorCode.GENESIS_INVALID, f"genesis hash {h} does not match the expected {expect}")
    click.echo(f"ok: chain {g.chain_id}, {g.n} validators (f={g.f}), {len(g.observers)} observers")
    click.echo(f"genesis hash: {h}")
