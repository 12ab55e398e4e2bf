"""Speech: each language's WAV is produced and lasts about as long as its text needs."""

from __future__ import annotations

import shutil
import sys
import wave
from pathlib import Path

import pytest

from cli import speech
from cli.common import UserError
from node import speech as speech_engine
from tests.conftest import skip_unless_setup_installs

# scripts/test installs the speech extra and espeak-ng, so there the engines must be
# present and these tests run; elsewhere (a bare `pip install -e .[test]`) they skip.


def engine_ok(lang: str) -> bool:
    if lang == "en":
        return shutil.which("espeak-ng") is not None
    try:
        speech_engine._openjtalk()
    except UserError:
        return False
    return True


def need(lang: str) -> None:
    if not engine_ok(lang):
        skip_unless_setup_installs(f"speech engine for {lang} not installed", extra="speech")


# Short texts (synthesis is slow-ish) with the seconds-per-character a person would
# need: Japanese at about 7-8 morae a second (a kanji is one or two morae), English
# at about 150 words a minute (about 12-15 characters a second).
TEXTS = {
    "ja": ("第1問。市長の公約を評価してください。", (0.08, 0.40)),
    "en": ("Contest one. Please rate the mayor's pledges.", (0.03, 0.15)),
}


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getnframes() / w.getframerate()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_wav_lasts_as_long_as_the_text_needs(lang: str, tmp_path: Path) -> None:
    need(lang)
    text, (lo, hi) = TEXTS[lang]
    one = tmp_path / "one.wav"
    s = speech.Speaker(lang, wav_path=one)
    s.say(text)
    s.close()
    d1 = duration(one)
    assert lo * len(text) <= d1 <= hi * len(text), (lang, d1, len(text))
    # Twice the text takes about twice as long (plus one pause), not a constant.
    two = tmp_path / "two.wav"
    s = speech.Speaker(lang, wav_path=two)
    s.say(text)
    s.say(text)
    s.close()
    assert 1.8 * d1 <= duration(two) <= 2.2 * d1 + speech_engine.PAUSE_S + 0.1
    # And it is sound, not silence.
    with wave.open(str(one), "rb") as w:
        frames = memoryview(w.readframes(w.getnframes())).cast("h")
    assert max(abs(x) for x in frames) > 1000


def test_missing_engines_say_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(UserError) as ei:
        speech.Speaker("en", wav_path=tmp_path / "x.wav")
    assert ei.value.code == "SPEECH_ENGINE_MISSING"
    assert "espeak-ng is missing" in ei.value.message and "apt-get install espeak-ng" in ei.value.message
    monkeypatch.setitem(sys.modules, "pyopenjtalk", None)  # makes the import fail
    with pytest.raises(UserError) as ei:
        speech.Speaker("ja", play=True)
    assert ei.value.code == "SPEECH_ENGINE_MISSING" and "pip install -e '.[speech]'" in ei.value.message
    # A speaker asked for nothing needs no engine and makes no sound.
    quiet = speech.Speaker("ja")
    quiet.say("こんにちは")
    assert quiet.close() is None and quiet.parts == []


def test_no_audio_player_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech, "PLAYERS", ())
    with pytest.raises(UserError) as ei:
        speech.play(speech.Audio(b"\0\0" * 100, 8000))
    assert ei.value.code == "SPEECH_FAILED" and "--speak-to" in ei.value.message


def test_stream_wav_header_is_repaired() -> None:
    a = speech.Audio(b"\1\0" * 50, 8000)
    data = bytearray(a.wav_bytes())
    data[4:8] = data[40:44] = (0x7FFFFFFF).to_bytes(4, "little")
    assert speech_engine._fix_stream_wav(bytes(data)) == a.wav_bytes()
    with pytest.raises(ValueError):
        speech.join([a, speech.Audio(b"", 16000)])


def test_ballot_preview_speaks_to_a_file(tmp_path: Path) -> None:
    need("en")
    from click.testing import CliRunner

    from cli.main import cli

    root = Path(__file__).parents[2]
    wav = tmp_path / "ballot.wav"
    r = CliRunner().invoke(cli, ["election", "preview", "--manifest",
                                 str(root / "examples" / "election.toml"), "--lang", "en",
                                 "--plain", "--speak-to", str(wav)],
                           input="1\n1\n0\n0\ny\n")
    assert r.exit_code == 0, r.output
    spoken = r.output.split("This was a preview")[0]
    # Everything shown was spoken: the file lasts about as long as the text needs.
    lo, hi = TEXTS["en"][1]
    assert lo * len(spoken) <= duration(wav) <= hi * len(spoken) + 10, (duration(wav), len(spoken))


def test_spoken_text_has_no_hex_runs_and_no_commands() -> None:
    code = "3f2a9c01b7e45d20" + "ab" * 24
    en = speech.speech_text(f"Your tracking code: {code}", "en")
    assert en == "Your tracking code: 3 F 2 A, 9 C 0 1, B 7 E 4, 5 D 2 0"
    ja = speech.speech_text(f"あなたの追跡コード: {code}", "ja")
    assert ja == ("あなたの追跡コード: サン・エフ・ニ・エー、キュウ・シー・ゼロ・イチ、"
                  "ビー・ナナ・イー・ヨン、ゴ・ディー・ニ・ゼロ")
    assert speech.speech_text(f"Check it with: ballotchain receipt verify {code} --node x", "en") == "Check it with:"
    # words and short numbers are left alone
    assert speech.speech_text("Block 1234 of the chain", "en") == "Block 1234 of the chain"
