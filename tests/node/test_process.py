"""The node's lifecycle and process entry point, in one process: every part started is
stopped again (the store closed, the listening socket and the pid file released), also
when starting fails half-way, and a halted node exits with its status."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from pathlib import Path

import pytest

from ballot_tx.errors import BallotchainError, ErrorCode, StoreError
from ballot_tx.keys import load_key_file
from node import localnet as ln
from node.config import NodeConfig, load_config
from node.errors import NodeError
from node.homes import make_network
from node.process import EX_IOERR, EX_SOFTWARE, exit_status, load_genesis, run_node
from node.runtime import Node
from node.store import Store


def _home(tmp_path: Path, name: str = "observer-0") -> Path:
    make_network(tmp_path / "net", "process-test", 4, 1, ln.free_base_port(5))
    return tmp_path / "net" / name


def _status(cfg: NodeConfig) -> dict[str, object]:
    url = f"http://{cfg.listen_host}:{cfg.listen_port}/v1/status"
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (loopback)
        doc: dict[str, object] = json.load(r)
        return doc


def _port_free(cfg: NodeConfig) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((cfg.listen_host, cfg.listen_port))
        except OSError:
            return False
        return True


def _store_closed(cfg: NodeConfig) -> bool:
    """True when this process can open the store again (LevelDB holds a lock while open)."""
    try:
        Store(cfg.data_dir, load_genesis(cfg.genesis_file)).close()
    except BallotchainError as e:
        assert e.code == ErrorCode.STORE_LOCKED, e
        return False
    return True


@pytest.mark.parametrize("name", ["validator-0", "observer-0"])
def test_a_node_serves_then_releases_everything(tmp_path: Path, name: str) -> None:
    cfg = load_config(_home(tmp_path, name))
    keys = load_key_file(cfg.key_file.read_text())

    async def main() -> dict[str, object]:
        async with Node(cfg, keys, load_genesis(cfg.genesis_file)) as node:
            assert not _store_closed(cfg)
            doc = await asyncio.to_thread(_status, cfg)
            assert node.supervisor.fatal is None
            return doc

    doc = asyncio.run(main())
    assert doc["mode"] == ("validator" if name.startswith("validator") else "observer")
    assert doc["validator_index"] == (0 if name == "validator-0" else None)
    assert doc["view"] == (0 if name == "validator-0" else None)
    assert _port_free(cfg)
    assert _store_closed(cfg)


def test_a_start_that_fails_half_way_stops_what_it_started(tmp_path: Path) -> None:
    cfg = load_config(_home(tmp_path))
    keys = load_key_file(cfg.key_file.read_text())
    taken = socket.socket()
    taken.bind((cfg.listen_host, cfg.listen_port))
    taken.listen()
    try:
        with pytest.raises(OSError):
            asyncio.run(run_node(cfg, keys, load_genesis(cfg.genesis_file)))
    finally:
        taken.close()
    assert _store_closed(cfg)
    assert not cfg.pid_file.exists()


def test_a_validator_key_that_is_not_in_genesis_is_refused_before_anything_opens(
        tmp_path: Path) -> None:
    home = _home(tmp_path)
    cfg = load_config(home)
    text = (home / "config.toml").read_text().replace('mode = "observer"', 'mode = "validator"')
    (home / "config.toml").write_text(text)
    cfg = load_config(home)
    assert cfg.mode == "validator"
    keys = load_key_file(cfg.key_file.read_text())
    with pytest.raises(NodeError) as e:
        asyncio.run(run_node(cfg, keys, load_genesis(cfg.genesis_file)))
    assert e.value.code == ErrorCode.NODE_HOME_INVALID
    assert not (cfg.data_dir / "CURRENT").exists()
    assert not cfg.pid_file.exists()


def test_exit_status_names_the_kind_of_failure() -> None:
    assert exit_status(StoreError(ErrorCode.STORE_DISK_FULL, "disk full")) == EX_IOERR == 74
    assert exit_status(NodeError(ErrorCode.NODE_INTERNAL, "task crashed")) == EX_SOFTWARE == 70
    assert exit_status(NodeError(ErrorCode.CONFIG_TLS, "bad key")) == 1
    assert exit_status(NodeError(ErrorCode.NODE_ALREADY_RUNNING, "pid 7")) == 1
