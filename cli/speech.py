"""Reading the ballot aloud for the voter commands: ``Speaker`` and playing audio.

The engines (Open JTalk for Japanese, espeak-ng for English) are in ``node/speech.py``,
shared with the node's read-aloud clips; here their errors become messages in the
voter's language. ``Speaker`` is what the voter commands use: ``say(text)`` plays each
utterance at once (``--speak``) and/or keeps it for one WAV file (``--speak-to``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ballot_tx.errors import ErrorCode
from cli.common import fail_localized
from cli.i18n import _
from node import speech as engine
from node.speech import Audio, SpeechError, join, speech_text, spoken_code

__all__ = ["PLAYERS", "Audio", "Speaker", "check_engine", "join", "play", "speech_text", "spoken_code", "synthesize"]

T = TypeVar("T")

#: Audio players tried in order for --speak (the first one found plays).
PLAYERS: tuple[tuple[str, ...], ...] = (
    ("aplay", "-q"), ("paplay",), ("pw-play",), ("afplay",), ("play", "-q"),
    ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"),
)


@contextmanager
def _in_voters_language() -> Iterator[None]:
    """Turn the engine's SpeechError into the same error in the voter's language."""
    try:
        yield
    except SpeechError as e:
        if e.code == ErrorCode.SPEECH_ENGINE_MISSING:
            fail_localized(e.code, _("Speech engine {engine} is missing: install it with {how}.").format(
                engine=e.engine, how=e.how))
        fail_localized(e.code, _("The speech could not be made: {why}").format(why=e.why))


def _localized(fn: Callable[[], T]) -> T:
    with _in_voters_language():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


def check_engine(lang: str) -> None:
    """``node.speech.check_engine`` with its error in the voter's language."""
    _localized(lambda: engine.check_engine(lang))


def synthesize(text: str, lang: str) -> Audio:
    """``node.speech.synthesize`` with its errors in the voter's language."""
    return _localized(lambda: engine.synthesize(text, lang))


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
            _localized(lambda: engine.check_engine(lang))

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
