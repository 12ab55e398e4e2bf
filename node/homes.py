"""Generate a local network's node homes: one directory per node with key, config and genesis.

Layout made under ``out``::

    out/genesis.json
    out/validator-0/ {node.key, config.toml, genesis.json}   ... validator-(n-1)
    out/observer-0/  {node.key, config.toml, genesis.json}   ...
    out/authorities/ {admin.key, registrar.key}

The genesis and its keys come from ``genesis.localnet``; the ``config.toml`` text from
``node.config.render_config`` (the one owner of that format). Addresses are loopback with
distinct ports starting at ``base_port``; for a real deployment, edit each ``address``
in genesis before distributing it (the hash changes, as it must).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ballot_tx.keys import dump_key_file
from genesis.document import ConsensusParams, Genesis, to_json
from genesis.localnet import DEFAULT_BASE_PORT, DEFAULT_PARAMS, local_genesis
from node.config import CONFIG_FILE, render_config


@dataclass(frozen=True)
class NodeHome:
    name: str
    mode: str
    path: Path
    node_id: str
    address: str


def write_private(path: Path, text: str) -> None:
    """Create a new 0600 file atomically (never overwrite), fsynced: how every key file is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def make_network(
    out: Path,
    chain_id: str,
    validators: int = 4,
    observers: int = 1,
    base_port: int = DEFAULT_BASE_PORT,
    host: str = "127.0.0.1",
    params: ConsensusParams = DEFAULT_PARAMS,
    genesis_time_ms: int | None = None,
) -> tuple[Genesis, list[NodeHome]]:
    """Create keys, genesis and one home per node under ``out`` (which must not hold a network)."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "genesis.json").exists():
        raise FileExistsError(f"{out} already holds a network (genesis.json exists)")
    net = local_genesis(
        chain_id, validators, observers, base_port, host, params,
        int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms,
    )
    gjson = to_json(net.genesis)
    (out / "genesis.json").write_text(gjson)
    auth_dir = out / "authorities"
    auth_dir.mkdir(exist_ok=True)
    for role, kp in net.authority_keys.items():
        write_private(auth_dir / f"{role}.key", dump_key_file(kp))
    homes = []
    for name, kp in net.node_keys.items():
        mode = name.split("-")[0]
        address = net.addresses[name]
        home = out / name
        home.mkdir()
        write_private(home / "node.key", dump_key_file(kp))
        (home / "genesis.json").write_text(gjson)
        peers = [a for a in net.validator_addresses if a != address]
        (home / CONFIG_FILE).write_text(render_config(mode, address, peers))
        homes.append(NodeHome(name, mode, home, kp.node_id, address))
    return net.genesis, homes
