"""Reading an election.toml from disk (files it names are relative to it)."""

from __future__ import annotations

import os
from pathlib import Path

from ballot_tx.manifest import Manifest
from cli.common import read_text
from cli.manifest_toml import parse_manifest


def load_manifest(path: Path, nonce: bytes | None = None) -> Manifest:
    """Parse and validate ``path``; a fresh random nonce unless given (or set in the file)."""
    base = path.parent

    def read_file(name: str) -> bytes:
        return (base / name).read_bytes()

    return parse_manifest(read_text(path), os.urandom(32) if nonce is None else nonce,
                          read_file, source=str(path))
