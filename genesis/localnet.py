"""Generate a network's node homes: one directory per node with key, config and genesis.

Layout made under ``out``::

    out/genesis.json
    out/validator-0/ {node.key, config.toml, genesis.json}   ... validator-(n-1)
    out/observer-0/  {node.key, config.toml, genesis.json}   ...
    out/authorities/ {admin.key, registrar.key}

Addresses are loopback with distinct ports starting at ``base_port``; for a
real deployment, edit each ``address`` in genesis before distributing it (the
hash changes, as it must).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ballot_tx.keys import KeyPair, dump_key_file
from genesis.document import (
    GENESIS_VERSION,
    Authority,
    ConsensusParams,
    Genesis,
    Member,
    to_json,
    validate,
)

DEFAULT_BASE_PORT = 7700
DEFAULT_PARAMS = ConsensusParams(
    max_block_txs=500,
    block_interval_ms=200,
    view_timeout_ms=2000,
    checkpoint_interval=10,
    max_block_bytes=2 << 20,
    time_precision_ms=1000,
    time_msg_delay_ms=3000,
)


@dataclass(frozen=True)
class NodeHome:
    name: str
    mode: str
    path: Path
    node_id: str
    address: str


def write_private(path: Path, text: str) -> None:
    """Create a new 0600 file atomically (never overwrite), fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def config_toml(mode: str, listen: str, peers: list[str], genesis_hash: str | None = None) -> str:
    peer_list = ", ".join(f'"{p}"' for p in peers)
    pin = (f'genesis_hash = "{genesis_hash}"   # refuse to start from any other genesis\n'
           if genesis_hash else '# genesis_hash = "..."   # set to the verified hash: refuse any other\n')
    return (
        "# Ballotchain node configuration (paths are relative to this file's directory)\n"
        "[node]\n"
        f'mode = "{mode}"            # validator or observer\n'
        'key_file = "node.key"\n'
        'genesis_file = "genesis.json"\n'
        'data_dir = "data"\n'
        + pin +
        "\n[network]\n"
        f'listen = "{listen}"\n'
        f"peers = [{peer_list}]\n"
        "# tls_cert = \"tls/node.crt\"   # serve TLS on this listener when both are set\n"
        "# tls_key = \"tls/node.key\"\n"
        "# tls_ca = \"tls/ca.crt\"       # trust this CA for peers' certificates\n"
        "\n[limits]\n"
        "max_request_bytes = 1048576\n"
        "mempool_max_txs = 20000\n"
        "client_rate_per_s = 200\n"
        "\n[log]\n"
        'level = "info"\n'
        "json = false\n"
    )


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
    plan = [("validator", i) for i in range(validators)] + [("observer", i) for i in range(observers)]
    keys = {f"{mode}-{i}": KeyPair.generate() for mode, i in plan}
    addrs = {name: f"{host}:{base_port + k}" for k, name in enumerate(keys)}
    members = {
        name: Member(kp.node_id, kp.ed25519_public, kp.x25519_public, addrs[name])
        for name, kp in keys.items()
    }
    auth_keys = {role: KeyPair.generate() for role in ("admin", "registrar")}
    g = Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        genesis_time_ms=int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms,
        validators=tuple(members[f"validator-{i}"] for i in range(validators)),
        observers=tuple(members[f"observer-{i}"] for i in range(observers)),
        authorities=tuple(
            Authority(role, f"{chain_id} {role}", kp.ed25519_public, kp.x25519_public)
            for role, kp in auth_keys.items()
        ),
        params=params,
    )
    validate(g)
    gjson = to_json(g)
    (out / "genesis.json").write_text(gjson)
    auth_dir = out / "authorities"
    auth_dir.mkdir(exist_ok=True)
    for role, kp in auth_keys.items():
        write_private(auth_dir / f"{role}.key", dump_key_file(kp))
    validator_addrs = [addrs[f"validator-{i}"] for i in range(validators)]
    homes = []
    for name, kp in keys.items():
        mode = name.split("-")[0]
        home = out / name
        home.mkdir()
        write_private(home / "node.key", dump_key_file(kp))
        (home / "genesis.json").write_text(gjson)
        peers = [a for a in validator_addrs if a != addrs[name]]
        (home / "config.toml").write_text(config_toml(mode, addrs[name], peers))
        homes.append(NodeHome(name, mode, home, kp.node_id, addrs[name]))
    return g, homes
