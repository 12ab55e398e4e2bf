"""Reading the ballot aloud: Japanese through Open JTalk, English through espeak-ng.

Open JTalk (the ``pyopenjtalk-plus`` wheel, which carries its dictionary and HTS
voice, so it works offline) reads kanji correctly; espeak-ng reads only kana in
Japanese, so it is used for English only. Both are optional: install them with
``pip install -e '.[speech]'`` in the source checkout and ``apt-get install espeak-ng`` (the
project scripts do both). A missing engine is a clear SPEECH_ENGINE_MISSING
error naming the install command, never a traceback.

``Speaker`` is what the voter commands use: ``say(text)`` plays each utterance
at once (``--speak``) and/or keeps it for one WAV file (``--speak-to``).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ballot_tx.errors import ErrorCode
from ballot_tx.yomi import HEX_READINGS_JA
from cli.common import fail_localized
from cli.i18n import _

#: Silence between utterances in a written file.
PAUSE_S = 0.35
#: espeak-ng voice and speed (words per minute) for English; 150 is a calm pace.
ESPEAK_VOICE = "en-us"
ESPEAK_WPM = 150
#: Audio players tried in order for --speak (the first one found plays).
PLAYERS: tuple[tuple[str, ...], ...] = (
    ("aplay", "-q"), ("paplay",), ("pw-play",), ("afplay",), ("play", "-q"),
    ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"),
)


#: How each hex digit is read out, letter by letter (Open JTalk reads "3f2a" as a number
#: with Latin letters in it; espeak-ng reads a run of hex as one word).
_JA_DIGITS = HEX_READINGS_JA
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8,}(?![0-9A-Za-z])")
_COMMAND = re.compile(r"ballotchain\s.*$", re.S)


def spoken_code(code_hex: str, lang: str) -> str:
    """A tracking code as a person can hear and write it down: its short form only (the
    first 4 groups of 4), letter by letter, with a pause between groups."""
    groups = [code_hex[i:i + 4].lower() for i in range(0, min(16, len(code_hex)), 4)]
    if lang == "ja":
        return "、".join("・".join(_JA_DIGITS[c] for c in g) for g in groups)
    return ", ".join(" ".join(c.upper() for c in g) for g in groups)


def speech_text(text: str, lang: str) -> str:
    """What is actually spoken for a line shown on screen: labels by their reading (yomi), a
    command never, and any long hex run (a tracking code, an id) as its short form, letter
    by letter."""
    from ballot_tx.yomi import plain, spoken

    text = spoken(text) if lang == "ja" else plain(text)  # 洞峰《どうほう》 is read どうほう
    text = _COMMAND.sub("", text)
    return _HEX_RUN.sub(lambda m: spoken_code(m.group(0), lang), text).strip()


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit little-endian PCM."""

    pcm: bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def wav_bytes(self) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.pcm)
        return buf.getvalue()


def _missing(engine: str, how: str) -> None:
    fail_localized(ErrorCode.SPEECH_ENGINE_MISSING,
                   _("Speech engine {engine} is missing: install it with {how}.").format(
                       engine=engine, how=how))


def _openjtalk() -> ModuleType:
    try:
        # pyopenjtalk-plus prints a notice about an optional ONNX model on import;
        # keep the voter's screen clean.
        with contextlib.redirect_stdout(io.StringIO()):
            import pyopenjtalk
    except ImportError:
        _missing("Open JTalk (pyopenjtalk-plus)",
                 "pip install -e '.[speech]' in the source checkout (scripts/demo does it)")
    return pyopenjtalk


def _synthesize_ja(text: str) -> Audio:
    import numpy as np

    pyopenjtalk = _openjtalk()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            samples, rate = pyopenjtalk.tts(text)
    except Exception as e:  # the engine's own failure, reported with our code
        fail_localized(ErrorCode.SPEECH_FAILED,
                       _("The speech could not be made: {why}").format(why=e))
    pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    return Audio(pcm, int(rate))


def _synthesize_en(text: str) -> Audio:
    exe = shutil.which("espeak-ng")
    if exe is None:
        _missing("espeak-ng", "apt-get install espeak-ng")
    assert exe is not None
    proc = subprocess.run([exe, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_WPM), "--stdout", "--stdin"],
                          input=text.encode(), capture_output=True, timeout=60, check=False)
    if proc.returncode != 0 or not proc.stdout:
        fail_localized(ErrorCode.SPEECH_FAILED, _("The speech could not be made: {why}").format(
            why=proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"))
    with wave.open(io.BytesIO(_fix_stream_wav(proc.stdout)), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            fail_localized(ErrorCode.SPEECH_FAILED, _("The speech could not be made: {why}").format(
                why="unexpected audio format"))
        return Audio(w.readframes(w.getnframes()), w.getframerate())


def _fix_stream_wav(data: bytes) -> bytes:
    """espeak-ng writing to a pipe cannot seek back, so its RIFF and data sizes are
    placeholders (0x7fffffff); set them from the real length."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    body = len(data) - 44
    return (data[:4] + (36 + body).to_bytes(4, "little") + data[8:40]
            + body.to_bytes(4, "little") + data[44:])


def synthesize(text: str, lang: str) -> Audio:
    """Speech for ``text`` in ``lang`` ("ja" or "en")."""
    return _synthesize_ja(text) if lang == "ja" else _synthesize_en(text)


def join(parts: list[Audio]) -> Audio:
    """One recording of ``parts`` (one engine, so one sample rate) with short pauses."""
    rate = parts[0].rate if parts else 22050
    if any(p.rate != rate for p in parts):
        raise ValueError("cannot join recordings of different sample rates")
    pause = b"\0\0" * int(PAUSE_S * rate)
    return Audio(pause.join(p.pcm for p in parts), rate)


def play(audio: Audio) -> None:
    for player in PLAYERS:
        exe = shutil.which(player[0])
        if exe is None:
            continue
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(audio.wav_bytes())
            f.flush()
            proc = subprocess.run([exe, *player[1:], f.name], capture_output=True, check=False)
        if proc.returncode == 0:
            return
    fail_localized(ErrorCode.SPEECH_FAILED, _(
        "No audio player could play the speech; write it to a file with --speak-to FILE.wav."))


class Speaker:
    """What the voter hears: each ``say`` is played now (``play``) and/or kept for
    ``wav_path``, written by ``close``. A speaker with neither does nothing."""

    def __init__(self, lang: str, play: bool = False, wav_path: Path | None = None) -> None:
        self.lang = lang
        self.play = play
        self.wav_path = wav_path
        self.parts: list[Audio] = []
        self.texts: list[str] = []  # what was spoken, as text (tests read it)
        if play or wav_path is not None:
            # Fail before the voter starts, not in the middle of the ballot.
            if lang == "ja":
                _openjtalk()
            elif shutil.which("espeak-ng") is None:
                _missing("espeak-ng", "apt-get install espeak-ng")

    @property
    def active(self) -> bool:
        return self.play or self.wav_path is not None

    def say(self, text: str) -> None:
        if not self.active:
            return
        text = speech_text(text, self.lang)
        if not text:
            return
        self.texts.append(text)
        audio = synthesize(text, self.lang)
        if self.wav_path is not None:
            self.parts.append(audio)
        if self.play:
            play(audio)

    def close(self) -> Audio | None:
        """Write the WAV file (if asked) and return what was written."""
        if self.wav_path is None:
            return None
        audio = join(self.parts)
        self.wav_path.write_bytes(audio.wav_bytes())
        return audio
