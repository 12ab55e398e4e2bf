"""``ballotchain localnet up|status|down``: a whole network as processes on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import click

from ballot_tx.errors import ErrorCode
from cli.common import Group, fail
from node import localnet as ln
from node.homes import make_network


@click.group(cls=Group)
def localnet() -> None:
    """Run a local network: validators and observers as separate processes on 127.0.0.1."""


def _nodes(dir_: Path) -> list[ln.LocalNode]:
    dir_ = dir_.resolve()
    if not (dir_ / "genesis.json").exists():
        fail(ErrorCode.NODE_NOT_RUNNING, f"{dir_} holds no local network (no genesis.json)")
    return ln.discover(dir_)


@localnet.command("up")
@click.option("--dir", "dir_", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Network directory (created with fresh keys and genesis if it holds none).")
@click.option("--validators", default=4, show_default=True, help="Validators (3f+1, >= 4).")
@click.option("--observers", default=1, show_default=True, help="Read-only observers.")
@click.option("--base-port", default=0, help="First loopback port (default: a free range).")
@click.option("--chain-id", default="localnet", show_default=True, help="Name of a new chain.")
def localnet_up(dir_: Path, validators: int, observers: int, base_port: int, chain_id: str) -> None:
    """Start every node under DIR (making the network first if DIR is new) and wait until all answer."""
    # Nodes run from their own home, not from here: every path they get must be absolute.
    dir_ = dir_.resolve()
    if not (dir_ / "genesis.json").exists():
        if validators < 4 or (validators - 1) % 3:
            fail(ErrorCode.USAGE, "--validators must be 3f+1 and at least 4")
        if observers < 0:
            fail(ErrorCode.USAGE, "--observers must be >= 0")
        base = base_port or ln.free_base_port(validators + observers)
        make_network(dir_, chain_id, validators, observers, base)
        click.echo(f"created network {chain_id!r} in {dir_}")
    nodes = _nodes(dir_)
    started = []
    for n in nodes:
        if n.pid() is not None:
            click.echo(f"  {n.name:12} already running (pid {n.pid()})")
            continue
        ln.start(n)
        started.append(n)
    try:
        ln.wait_ready(started, timeout=60)
    except RuntimeError as e:
        fail(ErrorCode.NODE_NOT_RUNNING, str(e))
    for n in nodes:
        click.echo(f"  {n.name:12} {n.url:28} pid {n.pid()}  log {n.log_file}")


@localnet.command("status")
@click.option("--dir", "dir_", type=click.Path(path_type=Path, file_okay=False), required=True)
def localnet_status(dir_: Path) -> None:
    """Ask each node for /v1/status and print one line per node."""
    nodes = _nodes(dir_)
    up = 0
    for n in nodes:
        s = ln.status(n)
        if s is None:
            click.echo(f"  {n.name:12} {n.url:28} down")
            continue
        up += 1
        flag = "catching up" if s.get("catching_up") else "current"
        view = s.get("view")
        click.echo(
            f"  {n.name:12} {n.url:28} height {s.get('height'):>6}"
            + (f"  view {view:>3}" if view is not None else " " * 11)
            + f"  peers {s.get('peers_reachable')}  mempool {s.get('mempool')}  {flag}"
        )
    if up == 0:
        fail(ErrorCode.NODE_NOT_RUNNING, f"no node of {dir_} answers")


@localnet.command("down")
@click.option("--dir", "dir_", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds before SIGKILL.")
def localnet_down(dir_: Path, timeout: float) -> None:
    """Stop every node under DIR: SIGTERM, then SIGKILL after --timeout seconds."""
    for n in _nodes(dir_):
        click.echo(f"  {n.name:12} {ln.stop(n, timeout)}")
