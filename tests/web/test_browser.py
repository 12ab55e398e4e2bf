"""The voting page in a real browser on a real 4+1 localnet (issue 8's "done when").

Python sets up the network and elections (tests/web/webnet.py), then
``web/test/browser/vote.mjs`` drives Debian's chromium through playwright-core at phone
size: a one-time code in Japanese with the keyboard only (mistyped code, empty ballot,
pictures checked against their hashes, the pledges rated, "check my ballot" opened and
shown, a fresh ballot cast, receipt verified from the observer, the code refused a second
time), a password-protected key file in English (wrong password, double-click cast, re-vote,
receipt), and a manifest whose picture hash is wrong (the page stops). axe-core audits
every state in both languages. Then the elections are closed and decrypted by 2 of 3
trustees: each published result must equal exactly what the browser cast, and
``ballotchain audit`` must pass on the observer's data.

Screenshots of every state in both languages are written by the test (to docs/web/, shown
in docs/roles/voter.md, when BALLOTCHAIN_SCREENSHOTS=docs/web).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ballot_tx.codec import decode
from ballot_tx.state import ElectionStatus
from node.scenario import plaintext_counts
from tests.web.jsbridge import ROOT, WEB, require_node
from tests.web.webnet import KEY_PASSWORD, WebNet

#: Where screenshots go: a temporary folder, or the folder docs/roles/voter.md shows when regenerating
#: them: ``BALLOTCHAIN_SCREENSHOTS=docs/web scripts/test -- tests/web/test_browser.py``.
SHOTS_ENV = os.environ.get("BALLOTCHAIN_SCREENSHOTS")
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_node()
    if not Path("/usr/bin/chromium").exists():
        raise AssertionError("chromium is missing: run scripts/_setup_web.sh --browser")
    root = tmp_path_factory.mktemp("webnet")
    shots = Path(SHOTS_ENV).resolve() if SHOTS_ENV else root / "shots"
    net = WebNet(root / "net")
    t0 = time.monotonic()
    net.start()
    try:
        polls = net.polls
        a = polls.create("web-a", "one-time-code", images=True)
        b = polls.create("web-b", "registered-key", images=False)
        c = polls.create("web-c", "one-time-code", images=True, wrong_image=True)
        for e in (a, b):
            polls.ceremony(e)
        codes = polls.register_codes(a, 2)
        keys = polls.register_key_files(b, root, 1, KEY_PASSWORD.encode())
        polls.open(a)
        polls.open(b)
        setup_s = time.monotonic() - t0
        cfg = {
            "validator": net.validators[1].url, "observer": net.observer.url,
            "a": a.eid.hex(), "b": b.eid.hex(), "c": c.eid.hex(),
            "codes": codes, "keys": [str(k) for k in keys], "password": KEY_PASSWORD,
            "shots": str(shots),
        }
        (root / "cfg.json").write_text(json.dumps(cfg))
        t1 = time.monotonic()
        proc = subprocess.run(
            ["node", "test/browser/vote.mjs", str(root / "cfg.json")],
            cwd=WEB, capture_output=True, text=True, timeout=240,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        browser_s = time.monotonic() - t1
        status_b = decode(ElectionStatus, bytes.fromhex(
            json.loads(_get(net.observer.url + f"/v1/elections/{b.eid.hex()}"))["status_bytes"]))
        results = {"a": polls.finish(a), "b": polls.finish(b)}
        yield {"shots": shots, "report": report, "net": net, "a": a, "b": b, "results": results, "status_b": status_b,
               "timing": {"setup_s": setup_s, "browser_s": browser_s}}
    finally:
        net.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback test node
        return str(r.read().decode())


def test_browser_flows_complete(run: Any) -> None:
    r = run["report"]
    assert r.get("failure") is None, r.get("failure")
    assert r["page_errors"] == []
    assert r["csp"] == {"screen": "start", "errors": []}, "the page must run under its own CSP"


def test_japanese_code_voting_by_keyboard(run: Any) -> None:
    a = run["report"]["a"]
    assert a["lang"] == "ja"
    assert "ELIGIBILITY_BAD_CODE" in a["typo_error"]
    assert a["typo_alert"].startswith("- alert") and "ELIGIBILITY_BAD_CODE" in a["typo_alert"]
    assert a["typo_focus"] == "code"
    assert a["image_alts"] == ["", "", ""], "a picture beside its label is decorative"
    assert a["ruby"] == {"base": "洞峰公園", "rt": "どうほうこうえん"}, "the manifest's reading is shown as ruby"
    assert all(x in a["rating_error"] for x in ("子育て支援", "公共交通", "行政のデジタル化")), "every unrated item is named"
    assert "入力に問題があります" in a["empty_alert"]
    assert a["images"] == 3, "every picture was shown after its hash was checked"
    assert a["empty_errors"] == 3, "each contest says what is missing"
    assert "つくば駅前" in a["summary"] and "70点" in a["summary"] and "夜間診療所" in a["summary"]
    assert a["audit"] == a["summary"], "the opened ballot shows exactly what was chosen"
    assert "公開されました" in a["audit_text"]
    assert "まだ投票は済んでいません" in a["not_voted"] and "まだ投票は済んでいません" in a["audit_status"]
    assert a["audit_status"].startswith("- status")
    assert "確認できました" in a["receipt"] and "4台のうち3台" in a["receipt"]
    assert "この投票は集計されます" in a["receipt_status"] and a["receipt_status"].startswith("- status")
    assert a["short"].replace(" ", "") == a["tracking"][:16]
    # keeping the code: clipboard, file, QR
    assert a["copied"] == a["tracking"] and "コピーしました" in a["copy_status"]
    assert a["saved_name"] == f"tracking-code-{a['tracking'][:16]}.txt" and a["tracking"] in a["saved_text"]
    assert a["qr"]["w"] > 100 and a["qr"]["src"].startswith("data:image/gif") and a["short"] in a["qr"]["alt"]
    # the spoiled ballot, found by its short form: not counted
    assert "集計されません" in a["spoiled_receipt"] and "この投票は集計されます" not in a["spoiled_receipt"]
    assert "集計されません" in a["spoiled_status"]
    # what is not a tracking code, and a code that is not found
    assert "投票コード" in a["bad_format"] and a["bad_format"] in a["bad_format_alert"]
    assert a["bad_format_invalid"] == "true"
    assert "見つかりませんでした。入力したコードを確かめてください。" in a["not_found"]
    assert "見つかりませんでした" in a["not_found_alert"]
    assert not any(w in a["not_found"] for w in ("記録されていません", "もう一度投票"))
    assert a["after_back"] == {"alert": "", "status": ""}, "no stale announcement on the next screen"
    # the public ballot box: the same on every node; found by the first characters
    assert a["box"]["observer"] == a["box"]["validator"] and "集計される" in a["box"]["observer"]
    assert "件目を表示しています" in a["box_status"]
    assert a["short"] in a["box_found"] and "集計される" in a["box_found"]
    assert a["spoil_short"] in a["box_spoiled"] and "確認のために開封(集計されない)" in a["box_spoiled"]
    assert "0〜9とa〜f" in a["box_bad"]
    # a refusal at cast time offers another code, and says so aloud
    assert "TX_CODE_USED" in a["cast_error_alert"] and a["start_again"] == "別の投票コードを使う"
    assert "TX_CODE_USED" in a["reuse_error"] and a["reuse_screen"] == "start", "a used code is refused before the ballot"
    assert a["reuse_alert"].startswith("- alert") and "TX_CODE_USED" in a["reuse_alert"]
    # the answer to the cast was lost: the page said how to check, and the check shows it recorded
    assert len(a["lost_answer_tracking"]) == 64 and "確認できました" in a["lost_answer_receipt"]


def test_english_key_file_voting_with_revote(run: Any) -> None:
    b = run["report"]["b"]
    assert b["lang"] == "en"
    assert "KEY_WRONG_PASSWORD" in b["wrong_password"] and "KEY_WRONG_PASSWORD" in b["wrong_password_alert"]
    assert b["after_wrong"] == {"files": 1, "focus": "keypw"}, "the file is kept and the password field focused"
    assert b["file_button_h"] >= 44
    assert b["first_tracking"] != b["tracking"]
    # read aloud: every clip of the election fetched (whatever was chosen) and rendered
    assert b["speech"] == {"clips": 23, "ok": 23}
    assert "Verified" in b["receipt"] and "3 of the city’s 4 validator nodes" in b["receipt"]
    short_first = " ".join(b["first_tracking"][i:i + 4] for i in range(0, 16, 4))
    assert short_first in b["replaces_note"] and "no longer counted" in b["revote_status"]
    assert "replaced by a later re-vote" in b["replaced_receipt"] and "not counted" in b["replaced_receipt"]
    assert b["digit_clips"] == 16, "the short form is read from the 16 digit clips, all fetched"
    assert b["bad_format_alert"].startswith("- alert") and "looks like your voting code" in b["bad_format_alert"]
    assert "Not found: check the code you typed." in b["not_found_alert"]
    # the double click cast once: one first ballot plus the re-vote
    assert run["status_b"].ballots_cast == 2 and run["status_b"].voters_voted == 1


def test_hostile_manifest_stops_the_page(run: Any) -> None:
    assert "WEB_IMAGE_MISMATCH" in run["report"]["c"]["text"]


def test_hostile_nodes_are_caught(run: Any) -> None:
    h = run["report"]["hostile"]
    assert "WEB_NODES_DISAGREE" in h["key_swap"], "a swapped election key must stop the page"
    assert "WEB_MANIFEST_MISMATCH" in h["manifest_swap"]
    assert "WEB_WRONG_CHAIN" in h["wrong_chain"]
    assert "CONSENSUS_BAD_CERTIFICATE" in h["forged_receipt"] and "Verified" not in h["forged_receipt"]


def test_results_equal_what_the_browser_cast(run: Any) -> None:
    r = run["report"]
    for name in ("a", "b"):
        m = run[name].manifest
        finals = r[name]["finals"] if "finals" in r[name] else [r[name]["final"]]
        votes = [tuple(tuple(x) for x in f) for f in finals]
        assert run["results"][name].counts == plaintext_counts(m, votes), name


def test_audit_agrees(run: Any) -> None:
    net = run["net"]
    net.stop()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ballotchain"), "audit", "--data", str(net.observer.home), "--jobs", "1"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_serious_accessibility_violation_in_any_state(run: Any) -> None:
    axe = run["report"]["axe"]
    states = {a["state"] for a in axe}
    assert len(states) >= 30, sorted(states)
    bad = [(a["state"], v["id"], v["targets"]) for a in axe for v in a["violations"] if v["impact"] in BLOCKING]
    assert bad == []


def test_layout_fits_phone_and_zoom(run: Any) -> None:
    layout = run["report"]["layout"]
    assert [x for x in layout if not x["ok"]] == []
    assert {"ballot@360px", "ballot@195px"} <= {x["state"] for x in layout}


def test_screenshots_in_both_languages(run: Any) -> None:
    shots = run["report"]["shots"]
    for name in shots:
        assert (run["shots"] / name).stat().st_size > 1000
    assert sum(n.endswith("-ja.png") for n in shots) >= 12
    assert sum(n.endswith("-en.png") for n in shots) >= 12


def test_timing_budget(run: Any) -> None:
    t = run["timing"]
    print("browser test timing:", t)
    assert t["setup_s"] + t["browser_s"] < 110, t
