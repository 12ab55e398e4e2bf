"""Register and vote from a phone (issue 17's "done when"): a real browser at phone size
makes and seals the key, signs in at a real OpenID Connect provider, the registration
commits and is checked by the page, the voter votes and checks the receipt, in Japanese
and in English; the same login a second time is refused with its code. The published
result equals exactly what the browsers cast. The page sends the voter to the provider and
client id the election's manifest names (a registrar answering for another is refused), and
axe-core finds nothing in any of the new page states, in either language."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ballot_tx.errors import ErrorCode, KeyError_
from ballot_tx.keys import load_key_file
from harness.scenario import plaintext_counts
from tests.node.registrar.chainnet import CLIENT_ID, RegistrarNet
from tests.web.jsbridge import WEB, require_node

#: ``BALLOTCHAIN_REGISTRAR_SHOTS=docs/registrar`` writes the screenshots docs/registrar.md shows.
SHOTS = Path(os.environ["BALLOTCHAIN_REGISTRAR_SHOTS"]).resolve() if os.environ.get(
    "BALLOTCHAIN_REGISTRAR_SHOTS") else None
PASSWORD = "つくば-phone-2026"
LOGINS = ["tsukuba-hanako", "tsukuba-taro"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_node()
    if not Path("/usr/bin/chromium").exists():
        raise AssertionError("chromium is missing: run scripts/_setup_web.sh --browser")
    root = tmp_path_factory.mktemp("phone")
    net = RegistrarNet(root)
    net.start()
    try:
        poll = net.login_poll
        net.polls.ceremony(poll)
        net.polls.open(poll)
        cfg = {"validator": net.page_origin, "eid": poll.eid.hex(), "registrar": net.url,
               "issuer": net.issuer,
               "password": PASSWORD, "logins": LOGINS, "shots": str(SHOTS or root / "shots"),
               "work": str(root)}
        (root / "cfg.json").write_text(json.dumps(cfg))
        proc = subprocess.run(["node", "test/browser/login.mjs", str(root / "cfg.json")],
                              cwd=WEB, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        registered = net.status(poll.eid).registered
        result = net.polls.finish(poll) if report.get("failure") is None else None
        yield {"report": report, "net": net, "poll": poll, "result": result,
               "registered": registered}
    finally:
        net.stop()


def test_flows_complete_without_page_errors(run: dict[str, Any]) -> None:
    r = run["report"]
    assert r.get("failure") is None, r.get("failure")
    assert r["page_errors"] == []
    assert all(x["ok"] for x in r["layout"]), [x for x in r["layout"] if not x["ok"]]


def test_japanese_voter_registers_with_the_city_login_and_votes(run: dict[str, Any]) -> None:
    v = run["report"]["voters"][0]
    assert v["page_lang"] == "ja"
    assert "つくば市のログインで登録して投票" in v["start_text"]
    assert "8文字以上" in v["short_password"] and "KEY_PASSWORD_REQUIRED" in v["short_password"]
    assert "チェーンに記録され" in v["registered_text"]
    assert "パスワードが違います" in v["wrong_password"] and "KEY_WRONG_PASSWORD" in v["wrong_password"]
    assert "確認できました" in v["receipt"]
    assert "ログインできました" in v["finish_text"]
    assert v["returning"] == {"make_form": 0, "unlock_form": 1, "ballot": True}


def test_english_voter_too(run: dict[str, Any]) -> None:
    v = run["report"]["voters"][1]
    assert v["page_lang"] == "en"
    assert "Register with the Tsukuba City login" in v["start_text"]
    assert "You are signed in" in v["finish_text"]
    assert "Your registration is on the chain" in v["registered_text"]
    assert "Wrong password" in v["wrong_password"]
    assert len(v["tracking"]) == 64 and v["tracking"] in v["receipt"].replace(" ", "")


def test_the_downloaded_key_is_the_registered_key_file(run: dict[str, Any]) -> None:
    net: RegistrarNet = run["net"]
    for v in run["report"]["voters"][:2]:
        text = Path(v["key_file"]).read_text()
        assert text == v["stored_key"], "the download is the key the browser keeps"
        keys = load_key_file(text, PASSWORD.encode())
        with pytest.raises(KeyError_) as e:
            load_key_file(text, b"guess")
        assert e.value.code == ErrorCode.KEY_WRONG_PASSWORD
        tx = net.tx(v["tracking"])
        assert tx["tx"]["signer"] == keys.ed25519_public.hex(), "the ballot is signed by that key"
        assert v["login"] not in json.dumps(tx)


def test_same_login_twice_is_refused_with_its_code(run: dict[str, Any]) -> None:
    v = run["report"]["voters"][2]
    assert v["registered_count"] == 0
    assert "already registered" in v["refusal"] and "TX_CARD_TAG_USED" in v["refusal"]
    assert run["registered"] == 2, "only the two logins registered"


def test_result_counts_exactly_the_phone_votes(run: dict[str, Any]) -> None:
    poll = run["poll"]
    sels = [tuple(tuple(c) for c in v["selections"]) for v in run["report"]["voters"][:2]]
    assert run["result"] is not None
    assert run["result"].counts == plaintext_counts(poll.manifest, sels)


#: The states of the phone flow axe-core audits, each in the voter's language (ja, en).
AXE_STATES = ("start", "key-sealed", "finish", "registration-pending", "registered",
              "unlock-on-return")


def test_no_accessibility_violation_in_the_phone_states(run: dict[str, Any]) -> None:
    axe = run["report"]["axe"]
    audited = {(a["state"], a["lang"]) for a in axe}
    assert {(s, lang) for s in AXE_STATES for lang in ("ja", "en")} <= audited, sorted(audited)
    assert ("refused", "en") in audited
    assert [(a["state"], a["lang"], v["id"], v["targets"]) for a in axe for v in a["violations"]] == []


def test_pending_registration_says_so(run: dict[str, Any]) -> None:
    ja, en = run["report"]["voters"][:2]
    assert "登録しています" in ja["pending_text"]
    assert "Registering" in en["pending_text"]


def test_the_page_signs_in_at_the_manifests_provider(run: dict[str, Any]) -> None:
    """The authorization request the browser sent names the manifest's provider and client."""
    poll, net = run["poll"], run["net"]
    assert poll.manifest.login_provider.issuer == net.issuer
    auth = run["report"]["auth_requests"]
    assert len(auth) == 3, auth  # one per real sign-in
    for url in auth:
        q = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{net.issuer}/auth?")
        assert q["client_id"] == [poll.manifest.login_provider.client_id] == [CLIENT_ID]
        assert q["code_challenge_method"] == ["S256"] and q["redirect_uri"] == [net.callback]


def test_a_registrar_answering_for_another_provider_is_refused_by_the_page(run: dict[str, Any]) -> None:
    v = run["report"]["voters"][2]
    assert "WEB_PROVIDER_MISMATCH" in v["provider_refusal"]
    assert "would not go to the login this vote names" in v["provider_refusal"]
    assert v["url_after_refusal"].startswith(run["net"].page_origin), "the browser stayed on the page"
