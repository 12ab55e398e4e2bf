"""``ballotchain card-authority``: a test card authority for demos (the real one is J-LIS's).

Layout of a card authority directory::

    ca.pem        the CA certificate (give it to the registrar)
    ca.key        the CA private key (0600, stays here)
    crl.pem       the current certificate revocation list (give it to the registrar)
    issued.json   serial -> holder name, birth date and expiry, so a serial is never
                  issued twice

A card carries the holder's name and date of birth as a JPKI signing certificate does
(see ``cli/card_authority.py``): a re-issued card (new serial, say after a move) is the
same person to the registrar, and registers no second time in an election.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from ballot_tx.errors import ErrorCode
from cli import card_authority as ca_lib
from cli.common import Group, fail, read_password_stdin
from node.homes import write_private


def _load(ca_dir: Path) -> ca_lib.Authority:
    try:
        return ca_lib.Authority.from_pem((ca_dir / "ca.pem").read_bytes(),
                                         (ca_dir / "ca.key").read_bytes())
    except FileNotFoundError:
        fail(ErrorCode.IO_ERROR, f"{ca_dir} is not a card authority directory "
             "(make one with 'ballotchain card-authority new')")
    except ValueError as e:
        fail(ErrorCode.IO_ERROR, f"the card authority in {ca_dir} is damaged: {e}")


def _issued(ca_dir: Path) -> dict[str, dict[str, str]]:
    path = ca_dir / "issued.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def _write_crl(ca_dir: Path, ca: ca_lib.Authority, revoked: dict[int, datetime]) -> None:
    tmp = ca_dir / "crl.pem.tmp"
    tmp.write_bytes(ca_lib.make_crl(ca, revoked, datetime.now(UTC)))
    tmp.replace(ca_dir / "crl.pem")


def _date(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        fail(ErrorCode.USAGE, f"{value!r} is not a date like 2026-04-01 or 2026-04-01T09:00")
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@click.group("card-authority", cls=Group)
def card_authority() -> None:
    """A test ID-card authority (My Number Card style) for demos and tests."""


@card_authority.command("new")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory to create for the card authority.")
@click.option("--name", default=ca_lib.DEFAULT_CA_NAME, show_default=True,
              help="The CA's common name.")
@click.option("--days", default=3650, show_default=True, help="Validity of the CA certificate.")
def ca_new(out: Path, name: str, days: int) -> None:
    """Create a card authority: a CA certificate and key, and an empty revocation list."""
    if out.exists() and any(out.iterdir()):
        fail(ErrorCode.IO_ERROR, f"{out} exists and is not empty; refusing to overwrite a CA")
    out.mkdir(parents=True, exist_ok=True)
    ca = ca_lib.new_authority(datetime.now(UTC), name, days)
    (out / "ca.pem").write_bytes(ca.cert_pem())
    write_private(out / "ca.key", ca.key_pem().decode())
    (out / "issued.json").write_text("{}\n")
    _write_crl(out, ca, {})
    click.echo(f"card authority {name!r} in {out}")
    click.echo(f"give the registrar {out / 'ca.pem'} and {out / 'crl.pem'}")


@card_authority.command("issue")
@click.option("--ca", "ca_dir", type=click.Path(path_type=Path), required=True,
              help="Card authority directory.")
@click.option("--serial", type=click.IntRange(min=1), required=True, help="Card serial number.")
@click.option("--name", required=True, help="Card holder's name (stays on the card, never on chain).")
@click.option("--birth-date", required=True,
              help="Card holder's date of birth, YYYY-MM-DD (on the card, never on chain).")
@click.option("--address", help="Card holder's address (on the card only; a move re-issues the card).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Card file to write (PKCS#12, e.g. card.p12).")
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa", show_default=True,
              help="rsa: RSA 2048 like JPKI cards; ec: ECDSA P-256 (faster).")
@click.option("--not-before", help="Start of validity (ISO date; default now).")
@click.option("--not-after", help="End of validity (ISO date; default 5 years from now).")
@click.option("--auth-only", is_flag=True,
              help="Make an authentication-only certificate (cannot sign; for tests).")
@click.option("--pin-stdin", is_flag=True, help="Protect the card with a PIN read from stdin.")
def ca_issue(ca_dir: Path, serial: int, name: str, birth_date: str, address: str | None,
             out: Path, key_type: str, not_before: str | None, not_after: str | None,
             auth_only: bool, pin_stdin: bool) -> None:
    """Issue a card: a signing certificate and its private key in a PKCS#12 file."""
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        fail(ErrorCode.USAGE, f"--birth-date {birth_date!r} is not a date like 1990-04-01")
    if born > datetime.now(UTC).date() or born.year < 1800:
        fail(ErrorCode.USAGE, f"--birth-date {birth_date} is not a plausible date of birth")
    if not name.split():
        fail(ErrorCode.USAGE, "--name must not be empty")
    ca = _load(ca_dir)
    issued = _issued(ca_dir)
    if str(serial) in issued:
        fail(ErrorCode.USAGE, f"serial {serial} was already issued by this card authority")
    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite a card")
    pin = read_password_stdin() if pin_stdin else None
    now = datetime.now(UTC)
    start = _date(not_before, now - timedelta(minutes=5))
    end = _date(not_after, now + timedelta(days=5 * 365))
    if end <= start:
        fail(ErrorCode.USAGE, "--not-after must be later than --not-before")
    cert, key = ca_lib.issue_card(ca, serial, name, start, end, key_type, signing=not auth_only,
                                  birth_date=born, address=address)
    write_private(out, "")  # create 0600 first, then fill with the binary container
    out.write_bytes(ca_lib.card_p12(cert, key, name, pin))
    issued[str(serial)] = {"name": name, "birth_date": born.isoformat(), "not_after": end.isoformat()}
    (ca_dir / "issued.json").write_text(json.dumps(issued, indent=2, ensure_ascii=False) + "\n")
    click.echo(f"issued card {serial} to {name} (valid {start:%Y-%m-%d} to {end:%Y-%m-%d}): {out}")


@card_authority.command("revoke")
@click.argument("serial", type=click.IntRange(min=1))
@click.option("--ca", "ca_dir", type=click.Path(path_type=Path), required=True,
              help="Card authority directory.")
def ca_revoke(serial: int, ca_dir: Path) -> None:
    """Revoke card SERIAL and publish a new revocation list (crl.pem)."""
    ca = _load(ca_dir)
    if str(serial) not in _issued(ca_dir):
        fail(ErrorCode.USAGE, f"serial {serial} was never issued by this card authority")
    revoked = ca_lib.revoked_serials((ca_dir / "crl.pem").read_bytes())
    if serial in revoked:
        fail(ErrorCode.USAGE, f"card {serial} is already revoked")
    revoked[serial] = datetime.now(UTC).replace(microsecond=0)
    _write_crl(ca_dir, ca, revoked)
    click.echo(f"revoked card {serial}; {len(revoked)} revoked in {ca_dir / 'crl.pem'}")


@card_authority.command("crl")
@click.option("--ca", "ca_dir", type=click.Path(path_type=Path), required=True,
              help="Card authority directory.")
def ca_crl(ca_dir: Path) -> None:
    """Re-issue the revocation list with a fresh date (a registrar refuses a stale one)."""
    ca = _load(ca_dir)
    revoked = ca_lib.revoked_serials((ca_dir / "crl.pem").read_bytes())
    _write_crl(ca_dir, ca, revoked)
    click.echo(f"{ca_dir / 'crl.pem'}: {len(revoked)} revoked")
