"""``ballotchain node start --home DIR``: run one validator or observer in the foreground."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from cli.common import Group
from cli.keyfile import load as load_key


@click.group(cls=Group)
def node() -> None:
    """Run a Ballotchain node."""


@node.command("start")
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The node's home: config.toml, node.key, genesis.json and the data directory.",
)
def node_start(home: Path) -> None:
    """Start the node in HOME and run until SIGTERM or SIGINT (then stop cleanly).

    The key file's password, if it has one, is read from BALLOTCHAIN_KEY_PASSWORD
    or asked for on the terminal.
    """
    from genesis.document import genesis_hash
    from node import logs
    from node.config import check_genesis_hash, load_config
    from node.runtime import load_genesis, run_node

    cfg = load_config(home)
    logs.setup(cfg.log_level, cfg.log_json, cfg.log_file)
    genesis = load_genesis(cfg.genesis_file)
    check_genesis_hash(cfg, genesis_hash(genesis))
    keys = load_key(cfg.key_file, prompt=sys.stdin.isatty())
    asyncio.run(run_node(cfg, keys, genesis))
