"""A node's ``config.toml``: what an operator edits, read strictly.

Every problem is a ``ConfigError`` (code ``CONFIG_INVALID``) whose message names
the offending field (``network.listen: ...``), because an operator fixing a
config file at 3 a.m. needs the line, not a traceback (the strict reading is
``node/toml_table.py``, shared with ``registrar.toml``). Relative paths are resolved
against the directory holding ``config.toml`` (the node's home), so a home directory can
be moved or copied as a whole.

This module owns the format both ways: ``render_config`` writes the file for a
new home (``node.homes``, the ceremony's homes, the tests' networks) and
``parse_config`` reads it; a test keeps the two in sync (whatever one writes,
the other reads back).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ballot_tx.errors import ErrorCode
from node.toml_table import (
    LOG_LEVELS,
    REQUIRED,
    ConfigError,
    StrictTable,
    config_path,
    field_error,
    parse_hostport,
)

CONFIG_FILE = "config.toml"
MODES = ("validator", "observer")


@dataclass(frozen=True)
class PeerAddress:
    """One entry of ``network.peers``: where to dial, and optionally whose node it is.

    Written ``host:port``, ``https://host:port`` or ``NODE_ID@host:port``. The
    node id is only needed when the address differs from the one in genesis
    (e.g. a validator reached through a proxy); otherwise genesis names it.
    """

    url: str
    node_id: str | None = None

    @property
    def hostport(self) -> str:
        return self.url.split("://", 1)[1]


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 1 << 20
    mempool_max_txs: int = 20000
    client_rate_per_s: int = 200
    peer_queue_max: int = 1000
    max_block_txs: int = 0  # 0: take genesis params.max_block_txs
    block_interval_ms: int = 0  # 0: take genesis params.block_interval_ms
    commit_wait_s: int = 30
    max_connections: int = 1024  # lowered at start to what the file limit allows
    idle_timeout_s: int = 30  # a connection without a complete request is closed after this
    body_timeout_s: int = 20  # a request body must arrive in full within this
    verify_workers: int = -1  # processes verifying signatures and proofs; -1: cores - 1, 0: inline


@dataclass(frozen=True)
class NodeConfig:
    home: Path
    mode: str
    key_file: Path
    genesis_file: Path
    data_dir: Path
    listen_host: str
    listen_port: int
    peers: tuple[PeerAddress, ...]
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    limits: Limits = field(default_factory=Limits)
    log_level: str = "info"
    log_json: bool = False
    log_file: Path | None = None
    #: the genesis hash this node may start from (hex), set after ``genesis verify``
    genesis_hash: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"


def parse_peer(field_name: str, value: str, tls_default: bool) -> PeerAddress:
    node_id = None
    rest = value
    if "@" in rest:
        node_id, rest = rest.split("@", 1)
        if len(node_id) != 40 or any(c not in "0123456789abcdef" for c in node_id):
            raise field_error(field_name, f"{node_id!r} is not a node id (40 lowercase hex characters)")
    scheme = "https" if tls_default else "http"
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme not in ("http", "https"):
            raise field_error(field_name, f"scheme {scheme!r} is not http or https")
    rest = rest.rstrip("/")
    parse_hostport(field_name, rest)
    return PeerAddress(f"{scheme}://{rest}", node_id)


def parse_config(text: str, home: Path) -> NodeConfig:
    """Parse config text for a node whose home directory is ``home``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(ErrorCode.CONFIG_INVALID, f"config.toml is not valid TOML: {e}") from None
    top = StrictTable(doc, "config", ("node", "network", "limits", "log"))
    node = StrictTable(
        top.doc.get("node", {}), "node", ("mode", "key_file", "genesis_file", "data_dir", "genesis_hash")
    )
    mode = node.get_str("mode", REQUIRED)
    if mode not in MODES:
        raise field_error("node.mode", f"{mode!r} is not one of {', '.join(MODES)}")
    net = StrictTable(
        top.doc.get("network", {}), "network", ("listen", "peers", "tls_cert", "tls_key", "tls_ca")
    )
    host, port = parse_hostport("network.listen", net.get_str("listen", REQUIRED))
    tls_cert = net.get_str("tls_cert")
    tls_key = net.get_str("tls_key")
    if (tls_cert is None) != (tls_key is None):
        raise field_error("network.tls_cert" if tls_cert is None else "network.tls_key",
                          "tls_cert and tls_key must be set together")
    tls_ca = net.get_str("tls_ca")
    peers = []
    for i, p in enumerate(net.get_list("peers")):
        if not isinstance(p, str):
            raise field_error(f"network.peers[{i}]", "expected a string")
        peers.append(parse_peer(f"network.peers[{i}]", p, tls_ca is not None))
    lim = StrictTable(
        top.doc.get("limits", {}),
        "limits",
        tuple(Limits.__dataclass_fields__),
    )
    d = Limits()
    limits = Limits(
        max_request_bytes=lim.get_int("max_request_bytes", d.max_request_bytes, 1024, 1 << 28),
        mempool_max_txs=lim.get_int("mempool_max_txs", d.mempool_max_txs, 1, 10_000_000),
        client_rate_per_s=lim.get_int("client_rate_per_s", d.client_rate_per_s, 1, 1_000_000),
        peer_queue_max=lim.get_int("peer_queue_max", d.peer_queue_max, 1, 1_000_000),
        max_block_txs=lim.get_int("max_block_txs", d.max_block_txs, 0, 1_000_000),
        block_interval_ms=lim.get_int("block_interval_ms", d.block_interval_ms, 0, 3_600_000),
        commit_wait_s=lim.get_int("commit_wait_s", d.commit_wait_s, 1, 3600),
        max_connections=lim.get_int("max_connections", d.max_connections, 16, 1_000_000),
        idle_timeout_s=lim.get_int("idle_timeout_s", d.idle_timeout_s, 1, 3600),
        body_timeout_s=lim.get_int("body_timeout_s", d.body_timeout_s, 1, 3600),
        verify_workers=lim.get_int("verify_workers", d.verify_workers, -1, 1024),
    )
    log = StrictTable(top.doc.get("log", {}), "log", ("level", "json", "file"))
    level = log.get_str("level", "info")
    if level not in LOG_LEVELS:
        raise field_error("log.level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    log_file = log.get_str("file")
    expected = node.get_str("genesis_hash")
    if expected is not None and (
        len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected.lower())
    ):
        raise field_error("node.genesis_hash", "expected 64 hex characters (the hash `genesis verify` prints)")
    return NodeConfig(
        home=home,
        mode=mode,
        key_file=config_path(home, "node.key_file", node.get_str("key_file", "node.key")),
        genesis_file=config_path(home, "node.genesis_file", node.get_str("genesis_file", "genesis.json")),
        data_dir=config_path(home, "node.data_dir", node.get_str("data_dir", "data")),
        listen_host=host,
        listen_port=port,
        peers=tuple(peers),
        tls_cert=None if tls_cert is None else config_path(home, "network.tls_cert", tls_cert),
        tls_key=None if tls_key is None else config_path(home, "network.tls_key", tls_key),
        tls_ca=None if tls_ca is None else config_path(home, "network.tls_ca", tls_ca),
        limits=limits,
        log_level=level,
        log_json=log.get_bool("json", False),
        log_file=None if log_file is None else config_path(home, "log.file", log_file),
        genesis_hash=None if expected is None else expected.lower(),
    )


def render_config(mode: str, listen: str, peers: list[str], genesis_hash: str | None = None) -> str:
    """The ``config.toml`` text of a new home, commented for the operator who edits it next.

    ``genesis_hash`` pins the chain (``check_genesis_hash``); without it the line is left
    commented out, to be set once the operator has verified the genesis.
    """
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


def load_config(home: Path) -> NodeConfig:
    """Read ``HOME/config.toml``."""
    path = home / CONFIG_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"no {CONFIG_FILE} in {home}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"cannot read {path}: {e}") from None
    return parse_config(text, home.resolve())


def check_genesis_hash(cfg: NodeConfig, actual: bytes) -> None:
    """Refuse to start from a genesis other than the one the operator verified.

    ``node.genesis_hash`` pins the chain: a genesis file swapped or edited after
    the ceremony (another validator set, another address) changes the hash.
    """
    if cfg.genesis_hash is not None and cfg.genesis_hash != actual.hex():
        raise ConfigError(
            ErrorCode.GENESIS_HASH_MISMATCH,
            f"{cfg.genesis_file} has hash {actual.hex()}, but node.genesis_hash in "
            f"{CONFIG_FILE} expects {cfg.genesis_hash}: refusing to start",
        )
