"""``ballotchain voter``: a voter's own keys and ID-card signature (voter-facing: ja/en)."""

from __future__ import annotations

from pathlib import Path

import click

from ballot_tx.eligibility.idcard import load_card, make_registration
from ballot_tx.errors import ErrorCode
from ballot_tx.keys import KeyPair
from cli import keyfile
from cli.common import Group, fail_localized, read_password_stdin
from cli.i18n import _, lang_option


def parse_election_id(value: str) -> bytes:
    """An election id as printed by ``election create``: 64 hex digits."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        fail_localized(ErrorCode.USAGE, _("The election ID must be 64 hexadecimal characters."))
    return raw


@click.group(cls=Group)
def voter() -> None:
    """A voter's pseudonymous key and ID-card registration request."""


@voter.command("keygen")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Voter key file to create (0600).")
@click.option("--password-stdin", is_flag=True, help="Encrypt the key file with a password from stdin.")
@lang_option
def voter_keygen(out: Path, password_stdin: bool) -> None:
    """Make a pseudonymous voting key: it carries no name, only the card vouches for it."""
    password = read_password_stdin() if password_stdin else None
    kp = KeyPair.generate()
    keyfile.save(out, kp, password)
    click.echo(_("Your voting key was saved to {path}.").format(path=out))
    click.echo(_("Voter public key: {key}").format(key=kp.ed25519_public.hex()))
    click.echo(_("Keep this file safe: you need it to vote."))


@voter.command("card-sign")
@click.option("--card", type=click.Path(path_type=Path, exists=False), required=True,
              help="Your ID card (PKCS#12 file).")
@click.option("--key", "key_path", type=click.Path(path_type=Path), required=True,
              help="Your voter key file (from 'voter keygen').")
@click.option("--election", "election", required=True, help="Election ID (64 hex digits).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Registration request to write (JSON), for the registrar.")
@click.option("--pin-stdin", is_flag=True, help="Read the card PIN from stdin.")
@lang_option
def voter_card_sign(card: Path, key_path: Path, election: str, out: Path,
                    pin_stdin: bool) -> None:
    """Sign your voter key with your ID card, making a registration request."""
    election_id = parse_election_id(election)
    pin = read_password_stdin() if pin_stdin else None
    kp = keyfile.load(key_path)
    try:
        data = card.read_bytes()
    except OSError:
        fail_localized(ErrorCode.IO_ERROR, _("Cannot read the card file {path}.").format(path=card))
    req = make_registration(load_card(data, pin), election_id, kp.ed25519_public)
    if out.exists():
        fail_localized(ErrorCode.IO_ERROR, _("{path} already exists; it was not overwritten.").format(path=out))
    out.write_text(req.to_json())
    click.echo(_("Your registration request was saved to {path}.").format(path=out))
    click.echo(_("Give this file to the registrar. It contains no secret."))
