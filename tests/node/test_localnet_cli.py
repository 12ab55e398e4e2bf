"""``ballotchain localnet up/status/down`` and ``node start`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from node import localnet as ln


def test_localnet_up_status_down(tmp_path: Path) -> None:
    d = tmp_path / "net"
    runner = CliRunner()
    try:
        r = runner.invoke(cli, ["localnet", "up", "--dir", str(d), "--validators", "4",
                                "--observers", "0"])
        assert r.exit_code == 0, r.output
        assert "created network" in r.output and r.output.count(" pid ") == 4
        nodes = ln.discover(d)
        pids = [n.pid() for n in nodes]
        assert all(pids) and all((n.home / "node.pid").exists() for n in nodes)
        # a second node from the same home is refused while the first runs
        again = runner.invoke(cli, ["node", "start", "--home", str(nodes[0].home)])
        assert again.exit_code == 1 and "NODE_ALREADY_RUNNING" in again.output
        r = runner.invoke(cli, ["localnet", "status", "--dir", str(d)])
        assert r.exit_code == 0 and r.output.count("height") == 4 and "down" not in r.output
    finally:
        r = runner.invoke(cli, ["localnet", "down", "--dir", str(d)])
    assert r.exit_code == 0 and r.output.count("stopped") == 4, r.output
    assert not any(ln.pid_alive(p) for p in pids if p)
    assert not any((n.home / "node.pid").exists() for n in nodes)
    assert all("node stopped" in n.log_file.read_text() for n in nodes)
    r = runner.invoke(cli, ["localnet", "status", "--dir", str(d)])
    assert r.exit_code == 1 and "NODE_NOT_RUNNING" in r.output
    r = runner.invoke(cli, ["node", "start", "--home", str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and "CONFIG_MISSING" in r.output
