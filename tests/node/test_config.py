"""config.toml parsing: what localnet writes reads back; every error names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballot_tx.errors import ErrorCode
from node.config import ConfigError, load_config, parse_config, render_config
from node.homes import make_network

HOME = Path("/srv/node")


def test_localnet_writer_and_reader_agree(tmp_path: Path) -> None:
    _, homes = make_network(tmp_path / "net", "cfg-test", 4, 1, base_port=17000)
    for h in homes:
        cfg = load_config(h.path)
        assert cfg.mode == h.mode
        assert f"{cfg.listen_host}:{cfg.listen_port}" == h.address
        assert cfg.key_file == h.path.resolve() / "node.key"
        assert cfg.genesis_file.read_text() == (tmp_path / "net" / "genesis.json").read_text()
        assert cfg.data_dir == h.path.resolve() / "data"
        # validators list the other validators; the observer lists all validators
        assert len(cfg.peers) == (3 if h.mode == "validator" else 4)
        assert all(p.url.startswith("http://127.0.0.1:") for p in cfg.peers)
        assert not cfg.tls


def _cfg(**over: str) -> str:
    text = render_config("validator", "127.0.0.1:7000", ["127.0.0.1:7001"])
    for old, new in over.items():
        assert old in text or old.startswith("+")
        text = text + new if old.startswith("+") else text.replace(old, new)
    return text


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('mode = "validator"', 'mode = "boss"', "node.mode"),
        ('listen = "127.0.0.1:7000"', 'listen = "nowhere"', "network.listen"),
        ('listen = "127.0.0.1:7000"', "listen = 7000", "network.listen"),
        ('peers = ["127.0.0.1:7001"]', 'peers = ["ftp://x:1"]', "network.peers[0]"),
        ('peers = ["127.0.0.1:7001"]', 'peers = ["zz@127.0.0.1:1"]', "network.peers[0]"),
        ("mempool_max_txs = 20000", "mempool_max_txs = 0", "limits.mempool_max_txs"),
        ("mempool_max_txs = 20000", 'mempool_max_txs = "many"', "limits.mempool_max_txs"),
        ('level = "info"', 'level = "loud"', "log.level"),
        ("json = false", "json = 1", "log.json"),
        ("+", "\n[extra]\nx = 1\n", "config.extra"),
        ("json = false", "json = false\ncolour = true", "log.colour"),
        ('# tls_cert = "tls/node.crt"', 'tls_cert = "tls/node.crt"', "network.tls_key"),
    ],
)
def test_errors_name_the_field(old: str, new: str, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(_cfg(**{old: new}), HOME)
    assert e.value.code == ErrorCode.CONFIG_INVALID
    assert f"config field {field}:" in e.value.message


def test_not_toml() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("[node\nmode=", HOME)
    assert e.value.code == ErrorCode.CONFIG_INVALID


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.code == ErrorCode.CONFIG_MISSING


def test_peer_forms_and_tls_default() -> None:
    nid = "ab" * 20
    text = _cfg(**{
        'peers = ["127.0.0.1:7001"]': f'peers = ["h1:1", "https://h2:2/", "{nid}@http://h3:3"]',
        '# tls_ca = "tls/ca.crt"': 'tls_ca = "/etc/ca.crt"',
        '# tls_cert = "tls/node.crt"': 'tls_cert = "tls/node.crt"',
        '# tls_key = "tls/node.key"': 'tls_key = "tls/node.key"',
    })
    cfg = parse_config(text, HOME)
    assert [p.url for p in cfg.peers] == ["https://h1:1", "https://h2:2", "http://h3:3"]
    assert cfg.peers[2].node_id == nid
    assert cfg.tls_cert == HOME / "tls/node.crt"
    assert cfg.tls_ca == Path("/etc/ca.crt")
