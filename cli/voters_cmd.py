"""``ballotchain voters``: the registrar's commands (eligibility checks off chain)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from ballot_tx.eligibility import one_time_code as otc
from ballot_tx.eligibility.idcard import (
    CardAuthority,
    CardRegistration,
    VerifiedCard,
    card_tag_key,
    verify_registration,
)
from ballot_tx.eligibility.one_time_code import CommitCodes
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import BallotchainError, ErrorCode
from cli import keyfile
from cli.chain_client import ChainClient, node_option, parse_id
from cli.common import Group, fail, read_text
from cli.voter_cmd import parse_election_id
from node.homes import write_private

#: Registrations per transaction (the chain's limit is 1000; smaller keeps blocks light).
BATCH = 500

#: A click command function, typed through the option decorators.
F = TypeVar("F", bound=Callable[..., Any])


def check_card_request(request: Path, ca_cert: Path, crl: Path, registrar_key: Path,
                       election_id: bytes) -> VerifiedCard:
    """Read a voter's card registration request and verify it completely, now."""
    req = CardRegistration.from_json(read_text(request))
    authority = CardAuthority.from_pem(ca_cert.read_bytes(), crl.read_bytes())
    key = keyfile.load(registrar_key)
    return verify_registration(req, authority, datetime.now(UTC), election_id,
                               card_tag_key(key.ed25519_seed))


def card_options(f: F) -> F:
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


# --- on chain ---------------------------------------------------------------------------

@voters.command("register")
@click.argument("election")
@click.argument("requests", nargs=-1, required=True, type=click.Path(path_type=Path))
@card_options
@node_option
def voters_register(election: str, requests: tuple[Path, ...], ca_cert: Path, crl: Path,
                    registrar_key: Path, node_url: str) -> None:
    """Verify ID-card registration REQUESTS and register their voter keys (registered-key).

    Every request is checked first (card signature, card authority, key usage,
    dates, revocation list); if one fails, nothing is registered. On chain go only
    the voter keys and keyed card tags: no name, no serial.
    """
    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    if e.manifest.eligibility != "registered-key":
        fail(ErrorCode.USAGE, f"this election uses {e.manifest.eligibility}, not ID-card "
             "registration; use 'voters codes'")
    entries: list[KeyEntry] = []
    seen: dict[bytes, Path] = {}
    for path in requests:
        try:
            v = check_card_request(path, ca_cert, crl, registrar_key, eid)
        except BallotchainError as err:
            raise type(err)(err.code, f"{path}: {err.message}") from None
        if v.tag in seen:
            fail(ErrorCode.ELIGIBILITY_REJECTED,
                 f"{path} and {seen[v.tag]} come from the same card; a card registers once")
        seen[v.tag] = path
        entries.append(KeyEntry(v.voter_public, v.tag))
    keys = keyfile.load(registrar_key)
    for i in range(0, len(entries), BATCH):
        answer = chain.submit(keys, RegisterKeys(eid, tuple(entries[i:i + BATCH])))
        click.echo(f"registered {len(entries[i:i + BATCH])} voters in block {answer.get('height')}")
    click.echo(f"registered voters now: {chain.election(eid).status.registered}")


@voters.command("codes")
@click.argument("election")
@click.option("--count", type=click.IntRange(1, 100_000), required=True, help="How many codes.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="CSV file of the codes for mailing (created 0600).")
@click.option("--key", "registrar_key", type=click.Path(path_type=Path), required=True,
              help="The registrar's key file.")
@node_option
def voters_codes(election: str, count: int, out: Path, registrar_key: Path,
                 node_url: str) -> None:
    """Make COUNT one-time voting codes, commit them on chain, and write them for mailing.

    Codes are 16 characters with a check character (a mistyped code is caught
    before voting). Only keys derived from salted codes go on chain; the file is
    the only place the codes exist: print, mail, then destroy it.
    """
    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    if e.manifest.eligibility != "one-time-code":
        fail(ErrorCode.USAGE, f"this election uses {e.manifest.eligibility}, not one-time codes")
    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite codes")
    salt = e.status.code_salt or os.urandom(32)
    codes = [otc.generate_code() for _ in range(count)]
    pubs = [otc.code_public_key(eid, salt, c) for c in codes]
    write_private(out, "number,code\n" + "".join(
        f"{i},{otc.format_code(c)}\n" for i, c in enumerate(codes, 1)))
    keys = keyfile.load(registrar_key)
    for i in range(0, count, BATCH):
        answer = chain.submit(keys, CommitCodes(eid, salt, tuple(pubs[i:i + BATCH])))
        click.echo(f"committed {len(pubs[i:i + BATCH])} codes in block {answer.get('height')}")
    click.echo(f"wrote {count} codes to {out}; registered voters now: "
               f"{chain.election(eid).status.registered}")


@voters.command("cancel")
@click.argument("election")
@click.option("--voter-key", "voter_keys", multiple=True, help="A voter's public key (64 hex).")
@click.option("--roll", type=click.Path(path_type=Path),
              help="CSV of the paper voters from the polling-station roll: name,birth_date "
                   "(YYYY-MM-DD), as on their ID cards (ID-card elections).")
@click.option("--login", "logins", multiple=True,
              help="City login subject ('sub') of a person who voted on paper (with --issuer).")
@click.option("--issuer", help="The city login's OpenID Connect issuer (default: the one the "
              "election's manifest names).")
@click.option("--key", "registrar_key", type=click.Path(path_type=Path), required=True,
              help="The registrar's key file (its secret keys the tags that find each voter).")
@node_option
def voters_cancel(election: str, voter_keys: tuple[str, ...], roll: Path | None,
                  logins: tuple[str, ...], issuer: str | None,
                  registrar_key: Path, node_url: str) -> None:
    """Cancel the internet votes of people who voted on paper at a polling station.

    The polling-station roll names persons; each is found by the keyed tag of their ID
    card holder identity (name and date of birth) or city login (only the registrar's key
    computes it) among the election's registrations. Their counted ballots leave the
    tally and their keys cannot vote again. Only counts reach the output: no name, login
    or key is printed.
    """
    import csv

    from ballot_tx.eligibility.city_login import login_tag, login_tag_key
    from ballot_tx.eligibility.idcard import (
        CardIdentity,
        card_tag,
        normalize_birth_date,
        normalize_name,
    )
    from ballot_tx.tx import MAX_CANCEL_BATCH, CancelInternetVote

    chain = ChainClient(node_url)
    eid = parse_id(election)
    manifest = chain.election(eid).manifest
    keys = keyfile.load(registrar_key)
    tags: list[bytes] = []
    if roll is not None:
        rows = list(csv.reader(read_text(roll).splitlines()))
        if rows and [c.strip().lower() for c in rows[0]] == ["name", "birth_date"]:
            rows = rows[1:]
        for line, row in enumerate(rows, 1):
            try:
                if len(row) != 2 or not normalize_name(row[0]):
                    raise ValueError("expected name,birth_date")
                who = CardIdentity(normalize_name(row[0]),
                                   normalize_birth_date(row[1].strip().replace("-", "")))
            except ValueError as e:
                fail(ErrorCode.USAGE, f"{roll}, row {line}: {e}")
            tags.append(card_tag(card_tag_key(keys.ed25519_seed), eid, who))
    if logins:
        if not issuer and manifest.login_provider is not None:
            issuer = manifest.login_provider.issuer
        if not issuer:
            fail(ErrorCode.USAGE, "--login needs --issuer (the city login's issuer URL)")
        tags += [login_tag(login_tag_key(keys.ed25519_seed), eid, issuer.rstrip("/"), s)
                 for s in logins]
    targets = [parse_id(v, "voter key") for v in voter_keys]
    if tags:
        by_tag = {entry.card_tag: entry.voter_key
                  for _, _, tx in chain.election_txs(eid) if isinstance(tx.body, RegisterKeys)
                  for entry in tx.body.entries}
        missing = sum(1 for t in tags if t not in by_tag)
        if missing:
            fail(ErrorCode.TX_NOT_ELIGIBLE,
                 f"{missing} of the {len(tags)} persons named registered no key in this election; "
                 "nothing was cancelled")
        targets += [by_tag[t] for t in tags]
    if not targets:
        fail(ErrorCode.USAGE, "name the voters: --roll, --login or --voter-key")
    if len(set(targets)) != len(targets):
        fail(ErrorCode.USAGE, "a voter is named twice")
    for i in range(0, len(targets), MAX_CANCEL_BATCH):
        batch = tuple(targets[i:i + MAX_CANCEL_BATCH])
        answer = chain.submit(keys, CancelInternetVote(eid, batch))
        click.echo(f"cancelled {len(batch)} internet votes in block {answer.get('height')}")
    click.echo(f"internet votes cancelled by paper votes now: {chain.election(eid).status.cancelled}")


@voters.command("list")
@click.argument("election")
@node_option
def voters_list(election: str, node_url: str) -> None:
    """How many voters are registered and how many have voted (counts only: no identities)."""
    chain = ChainClient(node_url)
    e = chain.election(parse_id(election))
    status = e.status
    click.echo(f"election {e.manifest.name} ({e.manifest.eligibility}), {e.phase}")
    click.echo(f"registered: {status.registered}")
    click.echo(f"voted:      {status.voters_voted}")
    if status.cancelled:
        click.echo(f"cancelled:  {status.cancelled} (voted on paper)")
    click.echo(f"not voted:  {status.registered - status.voters_voted}")


@voters.command("letters")
@click.argument("election")
@click.option("--codes", "codes_path", type=click.Path(path_type=Path), required=True,
              help="The CSV 'ballotchain voters codes' wrote.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The PDF to write (created 0600: it holds the codes).")
@click.option("--url", "base_url",
              help="The voting page's public address (default: the --node URL).")
@node_option
def voters_letters(election: str, codes_path: Path, out: Path, base_url: str | None,
                   node_url: str) -> None:
    """Print one voting letter per code: address and QR code, the code, the chain
    fingerprint, the voting window (JST) and how to vote, in Japanese and English."""
    from cli.letters import fingerprint, read_codes, render, voting_address

    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    if e.manifest.eligibility != "one-time-code":
        fail(ErrorCode.USAGE, f"this election uses {e.manifest.eligibility}: letters carry one-time codes")
    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite letters")
    letters = read_codes(read_text(codes_path), str(codes_path))
    pdf = render(e.manifest, eid, chain.chain_id, base_url or chain.node.base, letters)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pdf)
    click.echo(f"wrote {len(letters)} voting letters to {out} (one page each)")
    click.echo(f"voting address: {voting_address(base_url or chain.node.base, eid, chain.chain_id)}")
    click.echo(f"chain fingerprint printed on them: {fingerprint(chain.chain_id)}")
