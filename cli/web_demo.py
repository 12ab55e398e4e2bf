"""``ballotchain demo --web``: a poll a person votes in with a browser, on the demo network.

After the scripted election, the demo opens a second election and prints the address of
its voting page (served by every node at ``/vote/<election id>``), a few one-time voting
codes and a password-protected key file for a second, key-based poll. On a terminal it
waits until the person presses Enter; then both polls are closed, decrypted by two of the
three trustees and their results printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ballot_tx.keys import KeyPair
from harness.webpoll import DrivenChain, PollRunner

KEY_PASSWORD = "tsukuba"


def run_web_poll(chain: DrivenChain, admin: KeyPair, registrar: KeyPair, trustees: list[KeyPair],
                 page_base: str, out: Path, wait: bool | None = None) -> None:
    polls = PollRunner(chain, admin, registrar, trustees)
    code_poll = polls.create("web-poll-codes", "one-time-code", scale=True)
    key_poll = polls.create("web-poll-keys", "registered-key", images=False)
    for p in (code_poll, key_poll):
        polls.ceremony(p)
    codes = polls.register_codes(code_poll, 5)
    out.mkdir(parents=True, exist_ok=True)
    key_files = polls.register_key_files(key_poll, out, 2, KEY_PASSWORD.encode())
    polls.open(code_poll)
    polls.open(key_poll)
    click.echo("")
    click.echo("Vote in your browser (Japanese or English, phone or desktop):")
    click.echo(f"  {page_base}/vote/{code_poll.eid.hex()}")
    click.echo(f"    one-time voting codes: {', '.join(codes)}")
    click.echo(f"  {page_base}/vote/{key_poll.eid.hex()}")
    click.echo(f"    key files: {', '.join(str(k) for k in key_files)} (password: {KEY_PASSWORD})")
    if wait is None:
        wait = sys.stdin.isatty()
    if wait:
        click.echo("Press Enter when you have voted, to close these polls and see their results.")
        sys.stdin.readline()
    for p in (code_poll, key_poll):
        polls.finish(p)
        click.echo(f"{p.manifest.name}: closed, decrypted by trustees 1 and 3, result published")
