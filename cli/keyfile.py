"""Reading and writing key files on disk (the pure format lives in ballot_tx.keys)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ballot_tx.errors import ErrorCode, KeyError_
from ballot_tx.keys import KeyPair, dump_key_file, is_encrypted, load_key_file
from node.homes import write_private


def save(path: Path, keys: KeyPair, password: bytes | None) -> None:
    if path.exists():
        raise KeyError_(ErrorCode.KEY_FILE_EXISTS, f"{path} already exists; refusing to overwrite a key")
    write_private(path, dump_key_file(keys, password))


def load(path: Path, password: bytes | None = None, prompt: bool = True) -> KeyPair:
    """Load a key file, asking for its password on a terminal when it is encrypted."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KeyError_(ErrorCode.KEY_FILE_UNREADABLE, f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise KeyError_(ErrorCode.KEY_FILE_UNREADABLE, f"cannot read key file {path}: {e}") from None
    if password is None and is_encrypted(text):
        env = os.environ.get("BALLOTCHAIN_KEY_PASSWORD")
        cred = Path(os.environ.get("CREDENTIALS_DIRECTORY", "/nonexistent")) / "key-password"
        if env:
            password = env.encode()
        elif cred.is_file():  # systemd LoadCredential=key-password:... (deploy/systemd)
            password = cred.read_text().rstrip("\r\n").encode()
        elif prompt:
            password = click.prompt(f"Password for {path}", hide_input=True).encode()
    return load_key_file(text, password)
