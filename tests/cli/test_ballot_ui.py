"""The ballot as a voter meets it: under a pseudo-terminal, in Japanese, English and --plain."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.errors import ErrorCode
from ballot_tx.manifest import Manifest, check_selections
from cli.ballot_ui import ChoiceError, format_choices, parse_choices
from cli.manifest_file import load_manifest
from tests.ballot_tx.crypto.helpers import manifests, valid_selections
from tests.ptyterm import Terminal

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "election.toml"


def manifest() -> Manifest:
    return load_manifest(EXAMPLE, nonce=bytes(32))


def preview(*args: str) -> Terminal:
    return Terminal(["election", "preview", "--manifest", str(EXAMPLE), *args], cwd=str(ROOT))


def test_japanese_voter_at_a_terminal() -> None:
    t = preview("--lang", "ja")
    t.expect("つくば市 市民投票 2026")
    t.expect(r"第1問（全3問）: Society 5.0 モデル事業")
    t.expect(r"\[2\] 遠隔の健康相談")
    t.expect("選ぶ番号を入力してください")
    t.type("４")  # full-width digit from a Japanese input method: out of range
    t.expect("1から3までの番号を1つ入力してください。")
    t.type("２")
    t.expect("第2問")
    t.expect("「、」で区切って")
    t.type("1、2、3")  # three, but at most two
    t.expect("1個以上2個まで選んでください。")
    t.type("1、3")
    t.expect("「子育て支援」の評価")
    t.type("55")
    t.expect("10点刻み")
    t.type("70")
    t.expect("「公共交通」の評価")
    t.type("100")
    t.expect("選択内容をご確認ください")
    t.expect("洞峰公園、中央公園")
    t.expect("子育て支援 70点、公共交通 100点")
    t.expect("この内容で投票しますか")
    t.type("n")  # start again
    t.expect(r"第1問（全3問）")
    for line in ("1", "2", "0", "10"):
        t.expect(r"入力してください")
        t.type(line)
    t.expect("この内容で投票しますか")
    t.type("はい")
    out = t.expect("project=mobility;parks=akatsuka;pledges=childcare:0,transport:10")
    assert "送信されていません" in out
    assert t.finish() == 0


def test_english_plain_for_screen_readers() -> None:
    t = preview("--lang", "en", "--plain")
    t.expect("Question 1 of 3: Society 5.0 model project")
    t.expect("Option 3: Drone delivery")
    t.type("3")
    t.expect("Option 3: Central Park")
    t.type("")  # nothing chosen, but at least one is needed
    t.expect("Choose from 1 to 2 options.")
    t.type("2")
    t.expect("Your rating for Childcare support")
    t.type("100")
    t.type("50")
    t.expect("Please check your choices")
    t.expect("Cast this ballot")
    t.type("a")
    t.expect("project=drone;parks=akatsuka;pledges=childcare:100,transport:50' \\(audit\\)")
    assert t.finish() == 0
    # Plain means plain: no box drawing, bullets, brackets or colour codes anywhere.
    assert not any(ch in t.raw for ch in "─•[\x1b")


#: What the example's rating says 0 and 100 mean (its scale_low / scale_high), and the
#: defaults when a manifest is silent: (shown, spoken) per language.
SCALE_LABELS = {
    "ja": ("0は「まったく達成されていない」、100は「十分に達成された」です。",
           "0は「まったく達成されていない」、100は「じゅうぶんにたっせいされた」です。"),
    "en": ("0 means “Not achieved at all”, 100 means “Fully achieved”.",) * 2,
}
SCALE_DEFAULTS = {
    "ja": ("0は「まったく評価しない」、100は「とても高く評価する」です。",) * 2,
    "en": ("0 means “not at all”, 100 means “very highly”.",) * 2,
}


# two of the four (language, labels) pairs under a terminal with speech (each synthesizes
# the whole ballot); tests/ballot_tx/test_yomi.py shows all four in-process
@pytest.mark.parametrize(("lang", "labelled"), [("ja", True), ("en", False)])
def test_rating_scale_ends_are_shown_and_spoken(lang: str, labelled: bool, tmp_path: Path) -> None:
    """The ends of the rating scale, as the manifest names them (the reading of 十分 spoken,
    not じっぷん), or the defaults when it does not: on the screen and in the speech."""
    from cli.speech import check_engine
    from tests.conftest import skip_unless_setup_installs

    try:
        check_engine(lang)
    except Exception:
        skip_unless_setup_installs("the speech engines are not installed")
    source = EXAMPLE.read_text(encoding="utf-8")
    if not labelled:  # the same election without the two optional lines
        source = "\n".join(x for x in source.splitlines() if not x.startswith("scale_"))
        assert "scale_" not in source.replace("# scale", "")
    path = tmp_path / "election.toml"
    path.write_text(source, encoding="utf-8")
    (tmp_path / "trustees").symlink_to(EXAMPLE.parent / "trustees")
    transcript = tmp_path / "heard.txt"
    t = Terminal(["election", "preview", "--manifest", str(path), "--lang", lang, "--plain",
                  "--speak-to", str(tmp_path / "ballot.wav")], cwd=str(ROOT),
                 env={"BALLOTCHAIN_TRANSCRIPT": str(transcript)}, module="tests.speech_transcript")
    shown, spoken = (SCALE_LABELS if labelled else SCALE_DEFAULTS)[lang]
    for answer in ("1", "1"):
        t.expect("(入力してください|Type the)")
        t.type(answer)
    screen = t.expect("(子育て支援|Childcare support)")
    assert shown in screen and "《" not in screen
    for answer in ("0", "0", "y"):
        t.type(answer)
    assert t.finish(timeout=120) == 0, t.seen
    heard = transcript.read_text(encoding="utf-8")
    assert spoken in heard, heard
    if lang == "ja" and labelled:
        assert "十分" not in heard


def test_choices_text() -> None:
    m = manifest()
    sel = parse_choices(m, " project = health ; parks=doho,central;pledges=childcare:70,transport:１００")
    assert sel == ((0, 1, 0), (1, 0, 1), (70, 100))
    cases = [
        ("project=ufo;parks=doho;pledges=childcare:0,transport:0", ErrorCode.VOTE_UNKNOWN_OPTION),
        ("project=health;parks=doho;pledges=childcare:55,transport:0", ErrorCode.VOTE_BAD_RATING),
        ("project=health;parks=doho;pledges=childcare:110,transport:0", ErrorCode.VOTE_BAD_RATING),
        ("project=health;parks=doho;pledges=childcare:10", ErrorCode.VOTE_BAD_RATING),
        ("project=health;parks=doho,akatsuka,central;pledges=childcare:0,transport:0",
         ErrorCode.VOTE_BAD_COUNT),
        ("project=health,drone;parks=doho;pledges=childcare:0,transport:0", ErrorCode.VOTE_BAD_COUNT),
        ("project=health;parks=;pledges=childcare:0,transport:0", ErrorCode.VOTE_BAD_COUNT),
        ("project=health;parks=doho", ErrorCode.VOTE_BAD_CHOICES),
        ("project=health;parks=doho;mayor=x;pledges=childcare:0,transport:0",
         ErrorCode.VOTE_UNKNOWN_CONTEST),
        ("health", ErrorCode.VOTE_BAD_CHOICES),
    ]
    for spec, code in cases:
        with pytest.raises(ChoiceError) as ei:
            parse_choices(m, spec)
        assert ei.value.code == code, (spec, ei.value.message)


@given(st.data())
def test_choices_roundtrip_on_random_ballots(data: st.DataObject) -> None:
    m = data.draw(manifests())
    sel = data.draw(valid_selections(m))
    assert parse_choices(m, format_choices(m, sel)) == sel
    check_selections(m, sel)
