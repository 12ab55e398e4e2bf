"""A vote outside the manifest's window is refused on the voter's machine, before anything is sent."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ballot_tx.crypto import group as g
from ballot_tx.manifest import election_id
from ballot_tx.state.records import ElectionStatus
from cli import vote_cmd
from cli.chain_client import ElectionInfo
from cli.main import cli
from cli.manifest_file import load_manifest

ROOT = Path(__file__).parents[2]


class FakeChain:
    """A node that must never be asked to accept a ballot."""

    info: ElectionInfo

    def __init__(self, url: str) -> None:
        pass

    def election(self, eid: bytes) -> ElectionInfo:
        return self.info

    def submit(self, *args: Any) -> dict[str, Any]:
        raise AssertionError("nothing may be sent for a vote outside the window")


@pytest.mark.parametrize("start_ms,end_ms", [(4_000_000_000_000, 4_100_000_000_000),
                                             (1_000_000_000_000, 1_100_000_000_000)])
def test_vote_outside_the_window(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 start_ms: int, end_ms: int) -> None:
    m = dataclasses.replace(load_manifest(ROOT / "examples" / "election.toml", bytes(32)),
                            start_ms=start_ms, end_ms=end_ms)
    status = ElectionStatus(1, g.base(g.sc(5)), (1, 2, 3), None, 3, 0, 0, 0, None)
    FakeChain.info = ElectionInfo(election_id(m), m, status, None, 9)
    monkeypatch.setattr(vote_cmd, "ChainClient", FakeChain)
    runner = CliRunner()
    runner.invoke(cli, ["voter", "keygen", "--out", str(tmp_path / "v.key")])
    args = ["vote", election_id(m).hex(), "--node", "http://127.0.0.1:9", "--key",
            str(tmp_path / "v.key"), "--choices",
            "project=health;parks=doho;pledges=childcare:70,transport:100"]
    r = runner.invoke(cli, [*args, "--lang", "en"])
    assert r.exit_code == 1 and "[VOTE_NOT_OPEN] Voting is open from" in r.output
    r = runner.invoke(cli, [*args, "--lang", "ja"])
    assert r.exit_code == 1 and "現在は投票できません" in r.output
