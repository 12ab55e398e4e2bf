"""``python -m tests.speech_transcript ARGS``: the CLI (``ballotchain ARGS``), also writing
what its speakers said, as text, to ``$BALLOTCHAIN_TRANSCRIPT`` (one line per ``say``).

A pseudo-terminal test reads it back: what a voter heard, not only that a WAV exists. The
speech is the real one (``cli.speech.Speaker`` synthesizes every line as usual).
"""

from __future__ import annotations

import os
from pathlib import Path

from cli import speech
from cli.main import cli

_close = speech.Speaker.close


def _close_and_write(self: speech.Speaker) -> speech.Audio | None:
    with Path(os.environ["BALLOTCHAIN_TRANSCRIPT"]).open("a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in self.texts)
    return _close(self)


speech.Speaker.close = _close_and_write  # type: ignore[method-assign]

if __name__ == "__main__":
    cli(prog_name="ballotchain")
