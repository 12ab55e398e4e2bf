"""``ballotchain election``: officials' commands (and a ballot preview in ja/en)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.ballot_ui import AUDIT, Screen, ballot_options, fill_ballot, format_choices
from cli.common import Group
from cli.i18n import _, language
from cli.manifest_file import load_manifest
from cli.speech import Speaker


@click.group(cls=Group)
def election() -> None:
    """Create, open, close and follow elections (admin key from genesis)."""


@election.command("preview")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path), required=True,
              help="The election.toml to show.")
@ballot_options
def election_preview(manifest_path: Path, plain: bool, speak: bool,
                     speak_to: Path | None) -> None:
    """Show the ballot of an election.toml as voters will see it, and try it.

    Nothing is sent anywhere; at the end the choices are printed in the
    --choices form that 'ballotchain vote' accepts.
    """
    m = load_manifest(manifest_path, nonce=bytes(32))
    speaker = Speaker(language(), play=speak, wav_path=speak_to)
    sel, how = fill_ballot(Screen(plain, speaker), m)
    speaker.close()
    click.echo(_("This was a preview: nothing was sent."))
    click.echo(f"--choices '{format_choices(m, sel)}'" + (" (audit)" if how == AUDIT else ""))
