"""Japanese for lay voters: the words of the glossary below never reach a voter, on the page
or at the terminal (both catalogs are read whole)."""

from __future__ import annotations

from pathlib import Path

from cli.i18n import parse_po, po_path

ROOT = Path(__file__).parents[2]

#: jargon -> the plain words used instead
GLOSSARY = {
    "チェーン": "投票記録",
    "ブロック": "記録番号 / 記録",
    "ジェネシス": "市が公表している鍵",
    "取引": "記録",
    "指紋": "確認用の番号",
    "ノード": "サーバー",
}


def page_japanese() -> str:
    js = (ROOT / "web" / "src" / "i18n.js").read_text(encoding="utf-8")
    start = js.index("  ja: {")
    return js[start:js.index("  en: {", start)]


def test_no_jargon_in_the_voting_page() -> None:
    text = page_japanese()
    assert "確認用の番号" in text and "サーバー" in text
    assert [w for w in GLOSSARY if w in text] == []


def test_no_jargon_in_the_voter_cli() -> None:
    cat = parse_po(po_path("ja").read_text(encoding="utf-8"))
    voter_files = ("vote_cmd.py", "ballot_ui.py", "speech.py", "voter_cmd.py", "common.py", "errors.py")
    po = po_path("ja").read_text(encoding="utf-8").split("\n\n")
    voter_ids = set()
    for block in po:
        if any(f in block for f in voter_files):
            voter_ids.update(parse_po(block))
    bad = {mid: s for mid, (s, _) in cat.items() if mid in voter_ids and any(w in s for w in GLOSSARY)}
    assert bad == {}
