"""Every role through the CLI on a real 4+1 localnet: both eligibility methods, the result
equals the plaintext tally, and what people get wrong is answered in one sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ballot_tx.manifest import Selections
from cli.ballot_ui import parse_choices
from cli.chain_client import ChainClient
from cli.main import cli
from harness.scenario import plaintext_counts
from node import localnet as ln
from tests.ptyterm import Terminal

ROOT = Path(__file__).parents[2]

CODE_ELECTION = """
name = "tsukuba-poll"
title = { ja = "つくば市 意向調査", en = "Tsukuba city poll" }
eligibility = "one-time-code"
start = 2026-01-01T00:00:00+09:00
end = 2035-01-01T00:00:00+09:00
threshold = 2
[[trustees]]
name = "A"
public_key = "t1.pub"
[[trustees]]
name = "B"
public_key = "t2.pub"
[[trustees]]
name = "C"
public_key = "t3.pub"
[[contests]]
id = "park"
kind = "single"
title = { ja = "新しい公園の場所", en = "Location of the new park" }
[[contests.options]]
id = "center"
label = { ja = "つくば駅前", en = "Tsukuba Center" }
[[contests.options]]
id = "mountain"
label = { ja = "筑波山麓", en = "Foot of Mt Tsukuba" }
"""


def run(*args: str, input: str | None = None, ok: bool = True) -> str:
    r = CliRunner().invoke(cli, list(args), input=input)
    if ok:
        assert r.exit_code == 0, f"{args}: {r.output}"
    else:
        assert r.exit_code == 1, f"{args} should fail: {r.output}"
    return r.output


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("e2e")
    net_dir = d / "net"
    run("localnet", "up", "--dir", str(net_dir), "--validators", "4", "--observers", "1")
    nodes = ln.discover(net_dir)
    try:
        yield {"dir": d, "net": net_dir, "validator": nodes[0].url, "observer": nodes[-1].url,
               "admin": str(net_dir / "authorities" / "admin.key"),
               "registrar": str(net_dir / "authorities" / "registrar.key"),
               "genesis": str(net_dir / "genesis.json")}
    finally:
        run("localnet", "down", "--dir", str(net_dir))


def caught_up(observer: str, validator: str, timeout: float = 20.0) -> None:
    """Observers follow the validators: wait until this one has the validator's blocks."""
    import time

    target = ChainClient(validator).height()
    deadline = time.monotonic() + timeout
    while ChainClient(observer).height() < target:
        assert time.monotonic() < deadline, "the observer did not catch up"
        time.sleep(0.2)


def tamper_everywhere(rec: Path, work: Path) -> None:
    """Flip one byte of every file of the record: the audit fails and names the file. Then
    change a file *and* its hash in record.json: the audit still names the file."""
    import hashlib
    import json
    import shutil

    for f in sorted(rec.iterdir()):
        data = f.read_bytes()
        for pos in (len(data) // 2, len(data) - 2):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(rec, work)
            bad = bytearray(data)
            bad[pos] ^= 0x01
            (work / f.name).write_bytes(bytes(bad))
            out = run("audit", "--record", str(work), ok=False)
            assert f.name in out, (f.name, pos, out)

    def forge(name: str, edit: Any) -> str:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(rec, work)
        data = edit((work / name).read_bytes())
        (work / name).write_bytes(data)
        idx = json.loads((work / "record.json").read_text())
        idx["files"][name] = hashlib.sha256(data).hexdigest()
        (work / "record.json").write_text(json.dumps(idx, indent=1, sort_keys=True) + "\n")
        return run("audit", "--record", str(work), ok=False)

    out = forge("ballots.json", lambda d: d.replace(b'"height": ', b'"height":  ', 1))
    assert "ballots.json" in out
    out = forge("result.bin", lambda d: d[:-1] + bytes([d[-1] ^ 1]))
    assert "result.bin" in out
    # A changed vote deep inside a block: the replay names the block.
    blocks = (rec / "blocks.bin").read_bytes()
    out = forge("blocks.bin", lambda d: d[:len(d) * 3 // 4] + bytes([d[len(d) * 3 // 4] ^ 1])
                + d[len(d) * 3 // 4 + 1:])
    assert "blocks.bin" in out and "block " in out
    assert len(blocks) > 1000


def ceremony(net: dict[str, Any], eid: str, keys: list[Path]) -> None:
    node = net["validator"]
    out = run("election", "show", eid, "--node", node)
    assert "choose" in out or "rate" in out
    outs = []
    for _ in range(2):
        for k in keys:
            outs.append(run("trustee", "ceremony", eid, "--key", str(k), "--node", node))
    # after two rounds the first trustee has not yet checked the second's shares (sent after
    # its turn): the chain refuses to open, and the status says who is awaited
    assert "waiting for trustee 1 to check trustee 2's shares" in outs[-1]
    out = run("election", "open", eid, "--key", net["admin"], "--node", node, ok=False)
    assert "[TX_CEREMONY_UNACKNOWLEDGED]" in out
    out = run("trustee", "ceremony", eid, "--key", str(keys[0]), "--node", node)
    assert "step 3: the shares from trustee(s) 2 open and match their commitments: acknowledged" in out
    assert out.count("acknowledged 2 of 2 trustees' shares") == 3
    assert "the admin can open the election" in out
    run("election", "open", eid, "--key", net["admin"], "--node", node)


def finish(net: dict[str, Any], eid: str, keys: list[Path], votes: list[Selections],
           m_chain: ChainClient) -> None:
    node = net["validator"]
    run("election", "close", eid, "--key", net["admin"], "--node", node)
    run("trustee", "decrypt", eid, "--key", str(keys[2]), "--node", node)
    run("trustee", "decrypt", eid, "--key", str(keys[0]), "--node", node)
    run("trustee", "decrypt", eid, "--key", str(keys[0]), "--node", node, ok=False)
    run("election", "publish", eid, "--key", net["admin"], "--node", node)
    e = m_chain.election(bytes.fromhex(eid))
    result = m_chain.result(bytes.fromhex(eid))
    assert result is not None and result.counts == plaintext_counts(e.manifest, votes)
    assert e.phase == "decided"


def test_both_eligibility_methods_end_to_end(net: dict[str, Any], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    node, obs = net["validator"], net["observer"]
    keys = []
    for i in (1, 2, 3):
        keys.append(tmp_path / f"t{i}.key")
        run("trustee", "keygen", "--out", str(keys[-1]))
    # --- ID-card election ---------------------------------------------------------------
    toml = (ROOT / "examples" / "election.toml").read_text()
    for old, new in [("trustees/commission.pub", "t1.pub"), ("trustees/university.pub", "t2.pub"),
                     ("trustees/citizens.pub", "t3.pub")]:
        toml = toml.replace(old, new)
    (tmp_path / "election.toml").write_text(toml)
    bad = toml.replace('kind = "rating"', 'kind = "ranking"')
    (tmp_path / "bad.toml").write_text(bad)
    out = run("election", "create", "--manifest", str(tmp_path / "bad.toml"), "--key", net["admin"],
              "--node", node, ok=False)
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if "ranking" in s)
    assert "[MANIFEST_BAD_CONTEST]" in out and f"line {line}, contests[2].kind" in out
    out = run("election", "create", "--manifest", str(tmp_path / "election.toml"),
              "--key", net["admin"], "--node", node)
    eid = re.search(r"election id: ([0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
    ca = tmp_path / "ca"
    run("card-authority", "new", "--out", str(ca))
    card_args = ["--ca-cert", str(ca / "ca.pem"), "--crl", str(ca / "crl.pem"),
                 "--key", net["registrar"], "--node", node]
    reqs = []
    for i in (1, 2, 3, 4):
        run("card-authority", "issue", "--ca", str(ca), "--serial", str(i), "--name", f"Voter {i}",
            "--birth-date", f"19{60 + i}-05-0{i}",
            "--out", str(tmp_path / f"card{i}.p12"), "--key-type", "ec")
        run("voter", "keygen", "--out", str(tmp_path / f"v{i}.key"))
        reqs.append(tmp_path / f"req{i}.json")
        run("voter", "card-sign", "--card", str(tmp_path / f"card{i}.p12"), "--key",
            str(tmp_path / f"v{i}.key"), "--election", eid, "--out", str(reqs[-1]))
    ceremony(net, eid, keys)  # registration may happen before or after opening
    run("card-authority", "revoke", "4", "--ca", str(ca))
    out = run("voters", "register", eid, *map(str, reqs), *card_args, ok=False)
    assert "[ELIGIBILITY_CARD_REVOKED]" in out and "req4.json" in out
    out = run("voters", "register", eid, *map(str, reqs[:3]), *card_args)
    assert "registered voters now: 3" in out
    run("voter", "keygen", "--out", str(tmp_path / "again.key"))
    run("voter", "card-sign", "--card", str(tmp_path / "card1.p12"), "--key",
        str(tmp_path / "again.key"), "--election", eid, "--out", str(tmp_path / "again.json"))
    out = run("voters", "register", eid, str(tmp_path / "again.json"), *card_args, ok=False)
    assert "[TX_CARD_TAG_USED]" in out
    chain = ChainClient(node)
    m = chain.election(bytes.fromhex(eid)).manifest
    votes = {1: "project=health;parks=doho;pledges=childcare:70,transport:100",
             2: "project=drone;parks=doho,central;pledges=childcare:0,transport:50"}
    for i, choice in votes.items():
        out = run("vote", eid, "--node", node, "--key", str(tmp_path / f"v{i}.key"),
                  "--choices", choice, "--lang", "en")
        assert "Your tracking code:" in out
    tracking = re.search(r"tracking code: ([0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
    # A re-vote replaces voter 2's ballot; voter 3 audits one ballot, then votes at a terminal.
    votes[2] = "project=mobility;parks=akatsuka;pledges=childcare:100,transport:100"
    run("vote", eid, "--node", node, "--key", str(tmp_path / "v2.key"), "--choices", votes[2])
    out = run("vote", eid, "--node", node, "--key", str(tmp_path / "v3.key"), "--choices",
              "project=drone;parks=central;pledges=childcare:10,transport:20", "--spoil",
              "--lang", "ja")
    assert "集計されません" in out and "筑波" not in out and "中央公園" in out
    for bad_choice, code in [("project=ufo;parks=doho;pledges=childcare:0,transport:0",
                              "VOTE_UNKNOWN_OPTION"),
                             ("project=drone;parks=doho;pledges=childcare:55,transport:0",
                              "VOTE_BAD_RATING")]:
        out = run("vote", eid, "--node", node, "--key", str(tmp_path / "v3.key"), "--choices",
                  bad_choice, ok=False)
        assert f"[{code}]" in out
    t = Terminal(["vote", eid, "--node", node, "--key", str(tmp_path / "v3.key"), "--lang", "ja",
                  "--plain"], cwd=str(tmp_path))
    t.expect("選択肢3: ドローンによる配送")
    t.type("3")
    t.expect("選ぶ番号")
    t.type("2")
    t.expect("子育て支援")
    t.type("20")
    t.expect("公共交通")
    t.type("30")
    t.expect("この内容で投票しますか")
    t.type("y")
    t.expect("あなたの追跡コード")
    assert t.finish() == 0
    votes[3] = "project=drone;parks=akatsuka;pledges=childcare:20,transport:30"
    # Receipts: checked on this machine against the genesis, through the observer.
    caught_up(obs, node)
    out = run("receipt", "verify", tracking, "--node", obs, "--genesis", net["genesis"])
    assert "Verified" in out and "of the 4 validators" in out
    out = run("receipt", "verify", "ab" * 32, "--node", obs, "--genesis", net["genesis"],
              "--lang", "ja", ok=False)
    assert "[RECEIPT_NOT_FOUND]" in out and "見つかりませんでした" in out
    from cli.node_client import NodeClient

    real = NodeClient.receipt

    def tampered(self: NodeClient, code: bytes) -> dict[str, Any]:
        doc = real(self, code)
        raw = bytearray.fromhex(doc["inclusion_proof_bytes"])
        raw[-5] ^= 1  # one bit of the Merkle path
        return dict(doc, inclusion_proof_bytes=raw.hex())

    monkeypatch.setattr(NodeClient, "receipt", tampered)
    out = run("receipt", "verify", tracking, "--node", obs, "--genesis", net["genesis"], ok=False)
    assert "[RECEIPT_BAD_PROOF]" in out
    monkeypatch.undo()
    status = run("election", "status", eid, "--node", node)
    assert "registered voters: 3" in status and "spoiled (audited): 1" in status
    finish(net, eid, keys, [parse_choices(m, v) for v in votes.values()], chain)
    out = run("vote", eid, "--node", node, "--key", str(tmp_path / "v1.key"), "--choices",
              votes[1], ok=False)
    assert "[VOTE_NOT_OPEN]" in out
    caught_up(obs, node)
    out = run("election", "result", eid, "--node", obs, "--plot", str(tmp_path / "r.png"))
    assert "3 ballots counted" in out and (tmp_path / "r.png").stat().st_size > 10_000

    # --- the election record: exported, audited offline, and every changed byte is named ----
    rec = tmp_path / "record"
    out = run("election", "export", eid, "--out", str(rec), "--genesis", net["genesis"],
              "--node", obs)
    assert "3 ballots" in out or "4 ballots" in out
    out = run("audit", "--record", str(rec))
    assert "audit OK" in out and "result verified" in out
    # the verifier written from docs/spec alone agrees on the networked chain's record
    from tests.independent.test_independent_verifier import run_verifier

    code, out = run_verifier(rec)
    assert code == 0 and out.startswith("OK election"), out
    out = run("audit", "--node", obs, "--genesis", net["genesis"])
    assert "audit OK" in out
    tamper_everywhere(rec, tmp_path / "tampered")

    # --- one-time-code election -----------------------------------------------------------
    (tmp_path / "poll.toml").write_text(CODE_ELECTION)
    out = run("election", "create", "--manifest", str(tmp_path / "poll.toml"), "--key",
              net["admin"], "--node", node)
    pid = re.search(r"election id: ([0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
    ceremony(net, pid, keys)
    run("voters", "codes", pid, "--count", "3", "--out", str(tmp_path / "codes.csv"), "--key",
        net["registrar"], "--node", node)
    codes = [line.split(",")[1] for line in (tmp_path / "codes.csv").read_text().splitlines()[1:]]
    assert len(codes) == 3 and all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", c) for c in codes)
    assert (tmp_path / "codes.csv").stat().st_mode & 0o777 == 0o600
    poll_votes = ["park=center", "park=mountain"]
    run("vote", pid, "--node", node, "--code", codes[0].lower(), "--choices", poll_votes[0])
    # The second voter types the mailed code at the terminal, as printed, in English.
    t = Terminal(["vote", pid, "--node", node, "--lang", "en"], cwd=str(tmp_path))
    t.expect("Type your voting code")
    t.type(codes[1].replace("-", " "))
    t.expect("Question 1 of 1: Location of the new park")
    t.expect(r"\[2\] Foot of Mt Tsukuba")
    t.type("2")
    t.expect("Foot of Mt Tsukuba")
    t.expect("Cast this ballot")
    t.type("y")
    t.expect("Your tracking code: [0-9a-f]{64}")
    assert t.finish() == 0
    out = run("vote", pid, "--node", node, "--code", codes[0], "--choices", "park=mountain",
              ok=False)
    assert "[TX_CODE_USED]" in out
    typo = codes[2][:-1] + ("0" if codes[2][-1] != "0" else "1")
    out = run("vote", pid, "--node", node, "--code", typo, "--choices", "park=center",
              "--lang", "ja", ok=False)
    assert "[ELIGIBILITY_BAD_CODE]" in out and "投票コード" in out
    out = run("voters", "list", pid, "--node", node)
    assert "registered: 3" in out and "voted:      2" in out
    pm = chain.election(bytes.fromhex(pid)).manifest
    finish(net, pid, keys, [parse_choices(pm, v) for v in poll_votes], chain)
    out = run("election", "result", pid, "--node", node, "--json")
    assert '"votes": 1' in out
