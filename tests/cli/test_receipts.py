"""Receipts and tracking codes as a voter meets them (issue 15), on a real 4+1 localnet.

The public ballot box (every ballot's code, counted / replaced / opened for checking), the
short form of a code and lookup by it, and ``ballotchain receipt verify`` pinned by the
fingerprint on the voting letter and cross-checked with a second node: a spoiled ballot
says "not counted", a replaced one says so, a mistyped code says only "not found", and
what is not a tracking code gets one plain sentence.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ballot_tx.errors import BallotchainError, ErrorCode
from cli.main import cli
from node.ballotbox import BallotBox, short_code
from tests.conftest import skip_unless_setup_installs
from tests.ptyterm import Terminal
from tests.web.webnet import KEY_PASSWORD, WebNet

A_CHOICE = "park=tsukuba-center;facilities=library,clinic;pledges=childcare:70,transit:100,digital:30"
B_FIRST = "park=mt-tsukuba;facilities=pool;pledges=childcare:0,transit:50,digital:100"
B_SECOND = "park=doho-park;facilities=library;pledges=childcare:100,transit:90,digital:10"
NOT_LOST = ("lost", "not recorded", "vote again", "記録されていません", "もう一度投票")


def run(*args: str, ok: bool = True, input: str | None = None) -> str:
    r = CliRunner().invoke(cli, list(args), input=input)
    assert r.exit_code == (0 if ok else 1), f"{args}: {r.output}"
    return r.output


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - loopback test node
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def tracking(out: str) -> str:
    m = re.search(r"([0-9a-f]{64})", out)
    assert m, out
    return m.group(1)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("receipts")
    w = WebNet(root / "net")
    w.start()
    try:
        a = w.polls.create("rc-a", "one-time-code", images=False)
        b = w.polls.create("rc-b", "registered-key", images=False)
        for p in (a, b):
            w.polls.ceremony(p)
        codes = w.polls.register_codes(a, 3)
        keys = w.polls.register_key_files(b, root, 1, KEY_PASSWORD.encode())
        w.polls.open(a)
        w.polls.open(b)
        node, obs = w.validators[0].url, w.observer.url
        _, g = get(node + "/v1/genesis")
        fp = short_code(g["chain_id"])
        out = {"node": node, "obs": obs, "fp": fp, "a": a.eid.hex(), "b": b.eid.hex(), "polls": (a, b),
               "codes": codes, "key": str(keys[0]), "root": root, "net": w}
        # a: one cast, one "check my ballot"; b: a vote and a re-vote
        out["a_cast"] = tracking(run("vote", out["a"], "--node", node, "--code", codes[0],
                                     "--choices", A_CHOICE, "--lang", "en"))
        spoil_out = run("vote", out["a"], "--node", node, "--code", codes[1], "--choices",
                        A_CHOICE, "--spoil", "--lang", "en")
        out["spoil_out"] = spoil_out
        out["a_spoil"] = tracking(spoil_out)
        env_pw = {"BALLOTCHAIN_KEY_PASSWORD": KEY_PASSWORD}
        out["b_first"] = tracking(_vote_key(out, B_FIRST, env_pw))
        second = _vote_key(out, B_SECOND, env_pw)
        out["b_second_out"] = second
        out["b_second"] = tracking(second)
        _caught_up(obs, node)
        yield out
    finally:
        w.stop()


def _caught_up(observer: str, validator: str) -> None:
    """Observers follow the validators: wait until this one has the validator's blocks."""
    import time

    target = get(validator + "/v1/status")[1]["height"]
    deadline = time.monotonic() + 20
    while get(observer + "/v1/status")[1]["height"] < target:
        assert time.monotonic() < deadline, "the observer did not catch up"
        time.sleep(0.2)


def _vote_key(net: dict[str, Any], choice: str, env: dict[str, str]) -> str:
    r = CliRunner().invoke(cli, ["vote", net["b"], "--node", net["node"], "--key", net["key"],
                                 "--choices", choice, "--lang", "en"], input=KEY_PASSWORD + "\n",
                           env=env)
    assert r.exit_code == 0, r.output
    return r.output


def test_vote_output_gives_the_short_form_and_the_check_command(net: dict[str, Any]) -> None:
    out = net["b_second_out"]
    code = net["b_second"]
    assert f"Short form: {short_code(code)}" in out
    assert f"replaces your earlier ballot {short_code(net['b_first'])}" in out
    fp = net["fp"].replace(" ", "")
    assert f"receipt verify {code[:16]} --node {net['node']} --chain {fp}" in out
    assert "genesis.json" not in out
    spoil = net["spoil_out"]
    assert "opened for checking" in spoil and "not counted" in spoil and "You have not voted yet" in spoil


def test_public_ballot_box_lists_every_ballot_with_what_became_of_it(net: dict[str, Any]) -> None:
    for base in (net["node"], net["obs"]):  # the same list on every node
        st, a = get(f"{base}/v1/elections/{net['a']}/ballots")
        assert st == 200
        assert a["counts"] == {"ballots": 2, "counted": 1, "replaced": 0, "cancelled": 0, "opened": 1}
        by_code = {x["tracking_code"]: x for x in a["ballots"]}
        assert by_code[net["a_cast"]]["status"] == "counted"
        assert by_code[net["a_spoil"]]["status"] == "opened"
        assert by_code[net["a_cast"]]["short"] == short_code(net["a_cast"])
        st, b = get(f"{base}/v1/elections/{net['b']}/ballots")
        assert b["counts"] == {"ballots": 2, "counted": 1, "replaced": 1, "cancelled": 0, "opened": 0}
        first = next(x for x in b["ballots"] if x["tracking_code"] == net["b_first"])
        assert first["status"] == "replaced" and first["replaced_by"] == net["b_second"]
    # searchable by the first characters, paged
    q = net["a_spoil"][:6]
    _, found = get(f"{net['node']}/v1/elections/{net['a']}/ballots?q={q}")
    assert [x["tracking_code"] for x in found["ballots"]] == [net["a_spoil"]] and found["matching"] == 1
    _, page2 = get(f"{net['node']}/v1/elections/{net['a']}/ballots?offset=1&limit=1")
    assert len(page2["ballots"]) == 1 and page2["ballots"][0]["tracking_code"] == net["a_spoil"]
    st, bad = get(f"{net['node']}/v1/elections/{net['a']}/ballots?q=zz")
    assert st == 400 and bad["error"] == "RECEIPT_BAD_FORMAT"
    st, bad = get(f"{net['node']}/v1/elections/{net['a']}/ballots?limit=-1")
    assert st == 400 and bad["error"] == "API_BAD_REQUEST"
    st, bad = get(f"{net['node']}/v1/elections/{'0' * 64}/ballots")
    assert st == 404 and bad["error"] == "API_NOT_FOUND"


def test_lookup_by_short_form(net: dict[str, Any]) -> None:
    st, doc = get(f"{net['obs']}/v1/ballots/{net['a_cast'][:16]}")
    assert st == 200 and doc["tracking_code"] == net["a_cast"] and doc["status"] == "counted"
    st, doc = get(f"{net['obs']}/v1/ballots/{'0' * 64}")
    assert st == 404 and doc["error"] == "RECEIPT_NOT_FOUND"
    for bad in ("abc", "zz" * 8, "ABCD-EFGH-JKMN-PQRS", "0" * 65):
        st, doc = get(f"{net['obs']}/v1/ballots/{bad}")
        assert st == 400 and doc["error"] == "RECEIPT_BAD_FORMAT", bad


def test_short_form_that_two_ballots_share_is_refused() -> None:
    box = BallotBox(lambda h: None)
    shared = "3f2a9c01b7e45d20"
    for tail in ("a" * 48, "b" * 48):
        box.insert(shared + tail, b"\1" * 32, 1, "cast", bytes([len(box.by_code)]) * 32)
    with pytest.raises(BallotchainError) as ei:
        box.lookup(shared)
    assert ei.value.code == ErrorCode.RECEIPT_AMBIGUOUS
    assert box.lookup(shared + "b")["tracking_code"] == shared + "b" * 48


def test_receipt_verify_by_fingerprint_and_short_form_with_a_second_node(net: dict[str, Any]) -> None:
    out = run("receipt", "verify", short_code(net["a_cast"]).replace(" ", ""), "--node", net["node"],
              "--chain", net["fp"], "--lang", "en")
    assert f"Verified: your ballot {short_code(net['a_cast'])}" in out
    assert f"Tracking code: {net['a_cast']}" in out
    assert f"Checked with two nodes: {net['node']}, {net['obs']}" in out
    assert "This ballot is counted." in out


def test_spoiled_receipt_says_not_counted_in_both_languages(net: dict[str, Any]) -> None:
    out = run("receipt", "verify", net["a_spoil"], "--node", net["obs"], "--chain", net["fp"],
              "--lang", "en")
    assert "opened for checking and is not counted" in out and "This ballot is counted" not in out
    out = run("receipt", "verify", net["a_spoil"], "--node", net["obs"], "--chain", net["fp"],
              "--lang", "ja")
    assert "確認のために開封したもので、集計されません" in out


def test_replaced_receipt_says_so(net: dict[str, Any]) -> None:
    out = run("receipt", "verify", net["b_first"], "--node", net["node"], "--chain", net["fp"],
              "--lang", "en")
    assert f"replaced by a later re-vote ({short_code(net['b_second'])}) and is not counted" in out
    out = run("receipt", "verify", net["b_second"], "--node", net["node"], "--chain", net["fp"],
              "--lang", "en")
    assert "This ballot is counted." in out


def test_not_found_and_not_a_code_are_said_plainly(net: dict[str, Any]) -> None:
    typo = ("0" if net["a_cast"][0] != "0" else "1") + net["a_cast"][1:]
    for lang, want in (("en", "Not found: check the code you typed"), ("ja", "見つかりませんでした。入力したコードを確かめてください")):
        out = run("receipt", "verify", typo, "--node", net["node"], "--chain", net["fp"], "--lang", lang, ok=False)
        assert "[RECEIPT_NOT_FOUND]" in out and want in out
        assert not any(w in out for w in NOT_LOST), out
    out = run("receipt", "verify", net["codes"][2], "--node", net["node"], "--chain", net["fp"], "--lang", "en", ok=False)
    assert "[RECEIPT_BAD_FORMAT]" in out and "Your voting code is not your tracking code" in out
    out = run("receipt", "verify", typo[:16], "--node", net["node"], "--chain", net["fp"], ok=False)
    assert "[RECEIPT_NOT_FOUND]" in out


def test_wrong_fingerprint_and_no_pin_are_refused(net: dict[str, Any]) -> None:
    out = run("receipt", "verify", net["a_cast"], "--node", net["node"], "--chain", "0123456789abcdef",
              "--lang", "en", ok=False)
    assert "[RECEIPT_WRONG_CHAIN]" in out and "do not trust it" in out
    out = run("receipt", "verify", net["a_cast"], "--node", net["node"], "--lang", "en", ok=False)
    assert "[USAGE]" in out and "--chain" in out
    out = run("receipt", "verify", net["a_cast"], "--node", net["node"], "--chain", "xyz", ok=False)
    assert "[USAGE]" in out


def test_second_node_that_disagrees_stops_the_check(net: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.node_client import NodeClient

    real = NodeClient.ballot

    def lying(self: NodeClient, code: str) -> dict[str, Any]:
        doc = real(self, code)
        return dict(doc, status="replaced") if self.base == net["obs"] else doc

    monkeypatch.setattr(NodeClient, "ballot", lying)
    out = run("receipt", "verify", net["b_second"], "--node", net["node"], "--chain", net["fp"],
              "--lang", "en", ok=False)
    assert "[RECEIPT_NODES_DISAGREE]" in out
    monkeypatch.undo()
    # an unreachable second node is said, and the check still stands on the first
    out = run("receipt", "verify", net["b_second"], "--node", net["node"], "--chain", net["fp"],
              "--second-node", "http://127.0.0.1:9", "--lang", "en")
    assert "checked with one node only" in out and "Verified" in out


def test_after_a_check_the_terminal_offers_to_vote(net: dict[str, Any]) -> None:
    t = Terminal(["vote", net["a"], "--node", net["node"], "--code", net["codes"][2], "--lang", "en",
                  "--plain"], env={"NO_COLOR": "1"})
    for answer in ("2", "1", "70", "80", "90"):
        t.expect(r"(number|rating)")
        t.type(answer)
    t.expect("Cast this ballot")
    t.type("a")
    t.expect("You have not voted yet")
    t.expect("Vote now with a fresh ballot")
    t.type("y")
    for answer in ("3", "2", "10", "20", "30"):
        t.expect(r"(number|rating)")
        t.type(answer)
    t.expect("Cast this ballot")
    t.type("y")
    t.expect("Your tracking code: [0-9a-f]{64}")
    assert t.finish() == 0


def test_speech_reads_the_short_form_letter_by_letter_and_never_a_command(
        net: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from cli import speech, vote_cmd

    if shutil.which("espeak-ng") is None:
        skip_unless_setup_installs("espeak-ng is not installed")
    heard: list[speech.Speaker] = []

    class Recording(speech.Speaker):
        def close(self) -> speech.Audio | None:
            heard.append(self)
            return super().close()

    monkeypatch.setattr(vote_cmd, "Speaker", Recording)
    wav = tmp_path / "cast.wav"
    out = run("vote", net["a"], "--node", net["node"], "--code", net["codes"][1], "--choices",
              A_CHOICE, "--lang", "en", "--speak-to", str(wav))
    code = tracking(out)
    spoken = "\n".join(heard[0].texts)
    assert not re.search(r"\b[0-9a-fA-F]{5,}\b", spoken), spoken
    assert code[:8] not in spoken.replace(" ", "").lower()
    assert "ballotchain" not in spoken and "--node" not in spoken
    letters = ", ".join(" ".join(c.upper() for c in code[i:i + 4]) for i in range(0, 16, 4))
    assert f"Your tracking code, short form: {letters}" in spoken
    # about 5 s of speech for the code, not the 60 s the 64 digits and the command took
    assert speech.Audio(b"", 1).seconds == 0 and wav.stat().st_size < 22050 * 2 * 30


def test_used_or_unregistered_code_is_refused_before_the_ballot(net: dict[str, Any]) -> None:
    from ballot_tx.eligibility.one_time_code import code_from_seed, format_code

    t = Terminal(["vote", net["a"], "--node", net["node"], "--lang", "en", "--plain"],
                 env={"NO_COLOR": "1"})
    t.expect("Type your voting code")
    t.type(net["codes"][0])
    seen = t.expect(r"TX_CODE_USED.*")
    assert "Question 1" not in seen and "a code votes once" in seen
    assert t.finish() == 1
    stranger = format_code(code_from_seed(bytes.fromhex(net["a"]), 99))  # well formed, never mailed
    out = run("vote", net["a"], "--node", net["node"], "--code", stranger, "--lang", "ja", ok=False)
    assert "[TX_NOT_ELIGIBLE]" in out and "登録されていません" in out


def test_officials_read_the_result_status_and_audit_in_japanese(net: dict[str, Any], tmp_path: Path) -> None:
    from cli.chain_client import ChainClient

    a, _b = net["polls"]
    w = net["net"]
    st = run("election", "status", net["a"], "--node", net["node"], "--lang", "ja")
    assert "登録有権者数: 3" in st and "確認のために開封: " in st and "registered" not in st
    w.polls.finish(a)
    _caught_up(net["obs"], net["node"])
    r = ChainClient(net["obs"]).result(a.eid)
    assert r is not None
    out = run("election", "result", net["a"], "--node", net["obs"], "--lang", "ja",
              "--plot", str(tmp_path / "r.png"))
    assert f"集計した投票 {r.ballots} 票" in out and "投票数に対する割合" in out and "平均" in out
    assert not re.search(r"ballots|votes|mean|chart", out), out
    assert (tmp_path / "r.png").stat().st_size > 10_000
    # shares are of the ballots counted (not of the selections), and the table says so
    facilities = a.manifest.contests[1]
    for o, n in zip(facilities.options, r.counts[1], strict=True):
        assert re.search(rf"{o.label.ja}\s+{n}\s+{n / r.ballots:6.1%}", out), (o.label.ja, out)
    assert "1票で最大 2 つまで選べるため" in out
    en = run("election", "result", net["a"], "--node", net["obs"], "--lang", "en")
    assert "% of ballots" in en and "more than 100%" in en
    audit = run("audit", "--node", net["obs"], "--genesis", str(w.root / "genesis.json"), "--lang", "ja")
    assert "監査OK" in audit and "結果を、やり直した集計と管理者の復号分で確かめました" in audit
    assert "子育て支援" in audit and "audit OK" not in audit


def test_voting_letters_from_the_codes_file(net: dict[str, Any], tmp_path: Path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("number,code\n" + "".join(f"{i},{c}\n" for i, c in enumerate(net["codes"], 1)))
    out = run("voters", "letters", net["a"], "--codes", str(codes), "--out", str(tmp_path / "l.pdf"),
              "--node", net["node"], "--url", "https://vote.example")
    assert "wrote 3 voting letters" in out and f"chain fingerprint printed on them: {net['fp']}" in out
    assert (tmp_path / "l.pdf").read_bytes().startswith(b"%PDF") and (tmp_path / "l.pdf").stat().st_mode & 0o777 == 0o600
    assert f"https://vote.example/vote/{net['a']}?chain=" in out
    again = run("voters", "letters", net["a"], "--codes", str(codes), "--out", str(tmp_path / "l.pdf"),
                "--node", net["node"], ok=False)
    assert "[IO_ERROR]" in again
    out = run("voters", "letters", net["b"], "--codes", str(codes), "--out", str(tmp_path / "b.pdf"),
              "--node", net["node"], ok=False)
    assert "[USAGE]" in out and "one-time codes" in out


def test_ballot_box_pages_and_searches_like_a_full_scan() -> None:
    import hashlib

    eid = b"\2" * 32
    box = BallotBox(lambda h: None)
    entries = []
    for i in range(250):
        code = hashlib.sha256(bytes([i])).hexdigest()
        signer = bytes([i % 200]) * 32  # voters 0..49 vote twice: their first ballot is replaced
        kind = "spoil" if i % 17 == 0 else "cast"
        entries.append(box.insert(code, eid, i, kind, signer))
    want_counts = {"ballots": 250, "counted": 0, "replaced": 0, "cancelled": 0, "opened": 0}
    for e in entries:
        want_counts[box.status(e)] += 1
    doc = box.listing(eid, "", 240, 100)
    assert doc["counts"] == want_counts and doc["matching"] == 250
    assert [b["tracking_code"] for b in doc["ballots"]] == [e.code for e in entries[240:]]
    for q in ("a", "3f", "0", "ff"):
        full = sorted(e.code for e in entries if e.code.startswith(q))
        got = []
        offset = 0
        while True:
            page = box.listing(eid, q, offset, 7)
            assert page["matching"] == len(full)
            if not page["ballots"]:
                break
            got += [b["tracking_code"] for b in page["ballots"]]
            offset += 7
        assert got == full, q
