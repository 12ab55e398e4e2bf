"""``ballotchain registrar serve``: the registrar's online service (node/registrar/)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from cli.common import Group
from cli.keyfile import load as load_key


@click.group(cls=Group)
def registrar() -> None:
    """Run the registrar's online service (voters register from a phone or a counter)."""


@registrar.command("serve")
@click.option("--key", "key_path", type=click.Path(path_type=Path), required=True,
              help="The registrar's key file (genesis registrar key).")
@click.option("--node", "node_url", envvar="BALLOTCHAIN_NODE", required=True,
              help="URL of a validator's client API, e.g. http://127.0.0.1:7100.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True,
              help="registrar.toml: listen address, elections, ID-card CA, city login.")
def registrar_serve(key_path: Path, node_url: str, config_path: Path) -> None:
    """Accept registrations over HTTP(S) and register voter keys on chain in batches.

    Runs until SIGTERM or SIGINT. The key file's password, if it has one, is read
    from BALLOTCHAIN_KEY_PASSWORD or asked for on the terminal.
    """
    from node import logs
    from node.registrar.config import load_registrar_config
    from node.registrar.serve import run_registrar

    cfg = load_registrar_config(config_path)
    logs.setup(cfg.log_level, cfg.log_json, cfg.log_file)
    keys = load_key(key_path, prompt=sys.stdin.isatty())
    asyncio.run(run_registrar(cfg, keys, node_url))
