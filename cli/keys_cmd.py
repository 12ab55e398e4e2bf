"""``ballotchain keys``: make and inspect key files."""

from __future__ import annotations

from pathlib import Path

import click

from ballot_tx.keys import KeyPair, load_key_file, public_info
from cli import keyfile
from cli.common import Group, read_password_stdin, read_text


@click.group(cls=Group)
def keys() -> None:
    """Create and inspect Ed25519/X25519 key files."""


@keys.command("new")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Key file to create (0600).")
@click.option("--password-stdin", is_flag=True, help="Encrypt the file with a password read from stdin.")
def keys_new(out: Path, password_stdin: bool) -> None:
    """Write a new signing key (Ed25519) and share-encryption key (X25519) to OUT."""
    password = read_password_stdin() if password_stdin else None
    kp = KeyPair.generate()
    keyfile.save(out, kp, password)
    click.echo(f"wrote {out} (mode 0600{', password-encrypted' if password else ''})")
    click.echo(f"node_id:        {kp.node_id}")
    click.echo(f"ed25519_public: {kp.ed25519_public.hex()}")
    click.echo(f"x25519_public:  {kp.x25519_public.hex()}")


@keys.command("show")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--password-stdin", is_flag=True, help="Also check an encrypted file's password from stdin.")
def keys_show(file: Path, password_stdin: bool) -> None:
    """Print FILE's public keys and node id (never the secret).

    An unencrypted file is fully checked; an encrypted one is checked when its
    password is given with --password-stdin.
    """
    text = read_text(file)
    info = public_info(text)
    if info["encrypted"] == "no" or password_stdin:
        load_key_file(text, read_password_stdin() if password_stdin else None)
        info["checked"] = "yes"
    else:
        info["checked"] = "no (encrypted; give --password-stdin to check)"
    for k in ("node_id", "ed25519_public", "x25519_public", "encrypted", "checked"):
        click.echo(f"{k + ':':16}{info[k]}")
