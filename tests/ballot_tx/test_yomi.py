"""Readings of Japanese labels (ballot_tx/yomi.py): shown without, spoken with."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballot_tx.yomi import plain, segments, spoken, whole_reading, with_reading
from tests.conftest import skip_unless_setup_installs


def test_ruby_with_and_without_the_start_mark() -> None:
    assert segments("｜洞峰《どうほう》公園") == [("洞峰", "どうほう"), ("公園", None)]
    # without ｜ the reading belongs to the kanji run just before 《 (Aozora Bunko rule)
    assert segments("つくば市洞峰《どうほう》公園") == [("つくば", None), ("市洞峰", "どうほう"), ("公園", None)]
    assert plain("｜洞峰公園《どうほうこうえん》") == "洞峰公園"
    assert spoken("｜洞峰公園《どうほうこうえん》") == "どうほうこうえん"


@pytest.mark.parametrize("text", ["研究学園", "A《b》", "｜洞峰《doho》", "《どうほう》", "Doho Park"])
def test_what_is_not_ruby_stays_text(text: str) -> None:
    assert plain(text) == text and spoken(text) == text


def test_whole_label_reading_roundtrips_and_must_be_kana() -> None:
    ja = with_reading("洞峰公園", "どうほうこうえん")
    assert whole_reading(ja) == ("洞峰公園", "どうほうこうえん")
    assert whole_reading("｜洞峰《どうほう》公園") is None
    with pytest.raises(ValueError):
        with_reading("洞峰公園", "doho")
    with pytest.raises(ValueError):
        with_reading("｜洞峰", "どうほう")


def test_open_jtalk_reads_the_reading_not_the_kanji() -> None:
    from cli import speech

    try:
        speech.check_engine("ja")
    except Exception:
        skip_unless_setup_installs("Open JTalk is not installed")
    import pyopenjtalk

    text = speech.speech_text("選択肢1: ｜洞峰公園《どうほうこうえん》", "ja")
    assert text == "選択肢1: どうほうこうえん"
    assert "ドーホー" in pyopenjtalk.g2p(text, kana=True)
    assert "ホラガミネ" in pyopenjtalk.g2p("洞峰公園", kana=True)  # what it said before


def test_ballot_preview_shows_the_kanji_and_speaks_the_reading(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from cli import election_cmd, speech
    from cli.main import cli

    try:
        speech.check_engine("ja")
    except Exception:
        skip_unless_setup_installs("Open JTalk is not installed")
    heard: list[speech.Speaker] = []

    class Recording(speech.Speaker):
        def close(self) -> speech.Audio | None:
            heard.append(self)
            return super().close()

    monkeypatch.setattr(election_cmd, "Speaker", Recording)
    root = Path(__file__).parents[2]
    r = CliRunner().invoke(cli, ["election", "preview", "--manifest", str(root / "examples" / "election.toml"),
                                 "--lang", "ja", "--plain", "--speak-to", str(tmp_path / "b.wav")],
                           input="1\n1\n0\n0\ny\n")
    assert r.exit_code == 0, r.output
    assert "選択肢1: 洞峰公園" in r.output and "《" not in r.output and "どうほう" not in r.output
    spoken_text = "\n".join(heard[0].texts)
    assert "選択肢1: どうほうこうえん" in spoken_text and "洞峰" not in spoken_text


def test_rating_says_what_the_ends_of_the_scale_mean(tmp_path: Path) -> None:
    """The manifest's scale_low / scale_high, or the defaults without them, in both languages."""
    from click.testing import CliRunner

    from cli.main import cli

    root = Path(__file__).parents[2]
    example = root / "examples" / "election.toml"
    silent = tmp_path / "election.toml"  # the same election without the two optional lines
    silent.write_text("\n".join(x for x in example.read_text(encoding="utf-8").splitlines()
                                if not x.startswith("scale_")), encoding="utf-8")
    (tmp_path / "trustees").symlink_to(example.parent / "trustees")
    for path, lang, want in (
            (example, "en", "0 means “Not achieved at all”, 100 means “Fully achieved”."),
            (example, "ja", "0は「まったく達成されていない」、100は「十分に達成された」です。"),
            (silent, "en", "0 means “not at all”, 100 means “very highly”."),
            (silent, "ja", "0は「まったく評価しない」、100は「とても高く評価する」です。")):
        r = CliRunner().invoke(cli, ["election", "preview", "--manifest", str(path),
                                     "--lang", lang, "--plain"], input="1\n1\n0\n0\ny\n")
        assert r.exit_code == 0 and want in r.output, r.output
