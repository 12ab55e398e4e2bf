"""Speech synthesis: Japanese through Open JTalk, English through espeak-ng.

Open JTalk (the ``pyopenjtalk-plus`` wheel, which carries its dictionary and HTS
voice, so it works offline) reads kanji correctly; espeak-ng reads only kana in
Japanese, so it is used for English only. Both are optional: install them with
``pip install -e '.[speech]'`` in the source checkout and ``apt-get install espeak-ng`` (the
project scripts do both). A missing engine is a clear SPEECH_ENGINE_MISSING
error naming the install command, never a traceback.

The engine lives in ``node`` because both the node (the page's read-aloud clips,
``node/speech_clips.py``) and the voter CLI (``cli/speech.py``: ``Speaker``, playing, and the
error messages in the voter's language) use it; failures are ``SpeechError`` with a
stable code and the facts a message needs (engine, install command, reason).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from types import ModuleType
from typing import NoReturn

from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.yomi import HEX_READINGS_JA

#: Silence between utterances in a written file.
PAUSE_S = 0.35
#: espeak-ng voice and speed (words per minute) for English; 150 is a calm pace.
ESPEAK_VOICE = "en-us"
ESPEAK_WPM = 150


class SpeechError(BallotchainError):
    """SPEECH_ENGINE_MISSING (``engine``, ``how`` to install it) or SPEECH_FAILED (``why``)."""

    def __init__(self, code: ErrorCode, message: str, engine: str = "", how: str = "", why: str = "") -> None:
        super().__init__(code, message)
        self.engine, self.how, self.why = engine, how, why


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


def _missing(engine: str, how: str) -> NoReturn:
    raise SpeechError(ErrorCode.SPEECH_ENGINE_MISSING,
                      f"Speech engine {engine} is missing: install it with {how}.", engine=engine, how=how)


def _failed(why: str) -> NoReturn:
    raise SpeechError(ErrorCode.SPEECH_FAILED, f"The speech could not be made: {why}", why=why)


def check_engine(lang: str) -> None:
    """Raise SPEECH_ENGINE_MISSING unless the engine for ``lang`` is installed."""
    if lang == "ja":
        _openjtalk()
    elif shutil.which("espeak-ng") is None:
        _missing("espeak-ng", "apt-get install espeak-ng")


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
        _failed(str(e))
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
        _failed(proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}")
    with wave.open(io.BytesIO(_fix_stream_wav(proc.stdout)), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            _failed("unexpected audio format")
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
