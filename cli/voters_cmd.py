"""``ballotchain voters``: the registrar's commands (eligibility checks off chain)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ballot_tx.eligibility.idcard import (
    CardAuthority,
    CardRegistration,
    VerifiedCard,
    card_tag_key,
    verify_registration,
)
from cli import keyfile
from cli.common import Group, read_text
from cli.voter_cmd import parse_election_id


def check_card_request(request: Path, ca_cert: Path, crl: Path, registrar_key: Path,
                       election_id: bytes) -> VerifiedCard:
    """Read a voter's card registration request and verify it completely, now."""
    req = CardRegistration.from_json(read_text(request))
    authority = CardAuthority.from_pem(ca_cert.read_bytes(), crl.read_bytes())
    key = keyfile.load(registrar_key)
    return verify_registration(req, authority, datetime.now(UTC), election_id,
                               card_tag_key(key.ed25519_seed))


def card_options(f):  # type: ignore[no-untyped-def]
    for opt in reversed([
        click.option("--ca-cert", type=click.Path(path_type=Path), required=True,
                     help="The card authority's certificate (PEM)."),
        click.option("--crl", type=click.Path(path_type=Path), required=True,
                     help="The card authority's current revocation list (PEM)."),
        click.option("--key", "registrar_key", type=click.Path(path_type=Path), required=True,
                     help="The registrar's key file (its secret also keys the card tags)."),
    ]):
        f = opt(f)
    return f


@click.group(cls=Group)
def voters() -> None:
    """Register voters (registrar) and count them."""


@voters.command("check-card")
@click.argument("request", type=click.Path(path_type=Path))
@click.option("--election", required=True, help="Election ID (64 hex digits).")
@card_options
def voters_check_card(request: Path, election: str, ca_cert: Path, crl: Path,
                      registrar_key: Path) -> None:
    """Verify an ID-card registration REQUEST without registering it.

    Checks the card signature, that the card authority issued the certificate,
    its key usage, validity dates and the revocation list, and prints the
    on-chain tag (a keyed hash: no name or serial).
    """
    v = check_card_request(request, ca_cert, crl, registrar_key, parse_election_id(election))
    click.echo("card: valid (signature, card authority, key usage, dates, not revoked)")
    click.echo(f"voter public key: {v.voter_public.hex()}")
    click.echo(f"card tag:         {v.tag.hex()}")
