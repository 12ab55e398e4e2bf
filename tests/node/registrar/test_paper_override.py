"""A paper vote overrides the internet vote, end to end on a real chain: the registrar
cancels a voter found by their ID card, the tally excludes that ballot, the voter cannot
vote again online, status and audit show the count, the receipt says cancelled, and both
audits (live chain and exported record) recompute the same published result."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Selections
from ballot_tx.tx import CastBallot
from cli.main import cli
from harness.netchain import NetworkError
from harness.scenario import plaintext_counts
from tests.node.registrar.chainnet import RegistrarNet, holder_birth, holder_name
from tests.web.jsbridge import WEB, require_node

A: Selections = ((0, 1, 0), (1, 0, 1), (70, 100, 30))
B: Selections = ((1, 0, 0), (0, 1, 0), (0, 0, 0))
C: Selections = ((0, 0, 1), (0, 0, 1), (50, 50, 50))
D: Selections = ((1, 0, 0), (1, 1, 0), (100, 100, 100))


def page_receipt(url: str, axe: bool = False) -> dict[str, Any]:
    require_node()
    proc = subprocess.run(["node", "test/browser/receipt.mjs", url, *(["axe"] if axe else [])],
                          cwd=WEB, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def run(*args: str, ok: bool = True) -> str:
    r = CliRunner().invoke(cli, list(args))
    assert (r.exit_code == 0) == ok, f"{args}: {r.output}"
    return r.output


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("paper")
    net = RegistrarNet(root)
    net.start()
    try:
        import asyncio

        import aiohttp

        poll = net.card_poll
        voters = [KeyPair.generate() for _ in range(3)]

        async def register() -> None:
            async with aiohttp.ClientSession() as s:
                for i, v in enumerate(voters):
                    req = net.card_request(net.card(301 + i), v).to_json()
                    async with s.post(f"{net.url}/v1/register/card", data=req,
                                      headers={"Content-Type": "application/json"}) as r:
                        assert r.status == 200, await r.text()

        asyncio.run(register())
        net.polls.ceremony(poll)
        net.polls.open(poll)
        key = net.status(poll.eid).joint_key
        assert key is not None

        def cast(v: KeyPair, sel: Selections) -> str:
            b = ballot_crypto.encrypt_ballot(poll.manifest, key, v.ed25519_public, sel)[0]
            return net.polls.run(v, [CastBallot(poll.eid, b)])[0].hex()

        codes = [cast(voters[0], A), cast(voters[1], B), cast(voters[2], C)]
        codes.append(cast(voters[2], D))  # a re-vote replaces C
        yield {"net": net, "poll": poll, "voters": voters, "codes": codes, "cast": cast,
               "root": root, "eid": poll.eid.hex(), "node": net.nodes[0].url,
               "genesis": str(root / "net" / "genesis.json"),
               "registrar_key": str(root / "net" / "authorities" / "registrar.key")}
    finally:
        net.stop()


def test_paper_vote_overrides_the_internet_vote(story: dict[str, Any]) -> None:
    net: RegistrarNet = story["net"]
    eid, node = story["eid"], story["node"]
    base = ["--key", story["registrar_key"], "--node", node]
    before = net.status(story["poll"].eid)
    # the polling-station roll: a person not registered online is refused, nothing cancelled
    roll = story["root"] / "paper-voters.csv"
    roll.write_text(f"name,birth_date\n{holder_name(999)},{holder_birth(999)}\n"
                    f"{holder_name(302)},{holder_birth(302)}\n")
    out = run("voters", "cancel", eid, "--roll", str(roll), *base, ok=False)
    assert "[TX_NOT_ELIGIBLE]" in out and "1 of the 2 persons" in out and "nothing was cancelled" in out
    assert net.status(story["poll"].eid).cancelled == 0
    # the holder of card 302 voted on paper (written as the roll has it: full-width space)
    roll.write_text(f"{holder_name(302).replace(' ', chr(0x3000))},{holder_birth(302)}\n")
    out = run("voters", "cancel", eid, "--roll", str(roll), *base)
    assert "cancelled 1 internet votes in block" in out and "now: 1" in out
    assert "花子" not in out  # no name is echoed
    st = net.status(story["poll"].eid)
    assert (st.cancelled, st.voters_voted) == (1, before.voters_voted - 1)
    assert st.ballots_cast == before.ballots_cast, "accepted ballots stay on the record"
    # the same person again: already cancelled
    out = run("voters", "cancel", eid, "--roll", str(roll), *base, ok=False)
    assert "[TX_VOTE_CANCELLED]" in out
    # the cancelled voter cannot vote again online (no replacement of the paper vote)
    with pytest.raises(NetworkError) as e:
        story["cast"](story["voters"][1], A)
    assert e.value.code == "TX_VOTE_CANCELLED"
    assert net.status(story["poll"].eid).ballots_cast == before.ballots_cast

    status = run("election", "status", eid, "--node", node)
    assert "cancelled (voted on paper): 1 internet votes, not counted" in status
    assert json.loads(run("election", "status", eid, "--node", node, "--json"))["cancelled"] == 1
    assert "cancelled:  1 (voted on paper)" in run("voters", "list", eid, "--node", node)

    # the cancelled voter's receipt: recorded as cast, and cancelled
    out = run("receipt", "verify", story["codes"][1], "--node", node, "--genesis", story["genesis"],
              "--lang", "en")
    assert "Verified" in out and "A paper vote at a polling station cancelled this internet vote" in out
    out = run("receipt", "verify", story["codes"][1], "--node", node, "--genesis", story["genesis"],
              "--lang", "ja")
    assert "紙の投票により、このインターネット投票は取り消されました" in out
    out = run("receipt", "verify", story["codes"][0], "--node", node, "--genesis", story["genesis"],
              "--lang", "en")
    assert "Verified" in out and "cancelled" not in out
    # and the voting page's receipt check says so too (phone size, both languages)
    for lang, words in (("en", "A paper vote at a polling station cancelled this internet vote"),
                        ("ja", "紙の投票により、このインターネット投票は取り消されました")):
        page = page_receipt(f"{net.page_origin}/vote/{eid}?lang={lang}&receipt={story['codes'][1]}",
                            axe=True)
        assert page.get("failure") is None and page["page_errors"] == [], page
        assert words in page["text"]
        assert page["lang"] == lang and page["axe"] == [], page["axe"]  # axe-core: nothing found
    page = page_receipt(f"{net.page_origin}/vote/{eid}?lang=en&receipt={story['codes'][0]}")
    assert "cancelled" not in page["text"] and "recorded" in page["text"].lower()

    # the result counts A and D only (B cancelled, C replaced by D), and both audits agree
    result = net.polls.finish(story["poll"])
    assert result.ballots == 2
    assert result.counts == plaintext_counts(story["poll"].manifest, [A, D])
    out = run("audit", "--node", net.nodes[2].url, "--genesis", story["genesis"], "--jobs", "1")
    assert "audit OK" in out and "1 internet votes cancelled by paper votes" in out
    assert "cancel-internet-vote" in out
    rec = story["root"] / "record"
    run("election", "export", eid, "--out", str(rec), "--genesis", story["genesis"], "--node", node)
    out = run("audit", "--record", str(rec), "--jobs", "1")
    assert "audit OK" in out and "result verified" in out and "1 internet votes cancelled" in out
    regs = json.loads((rec / "registrations.json").read_text())
    assert "CancelInternetVote" in json.dumps(regs)
