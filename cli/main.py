"""The ``ballotchain`` command: one click group, one module per command group."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from cli.audit_cmd import audit
from cli.card_authority_cmd import card_authority
from cli.common import Group
from cli.demo_cmd import demo
from cli.election_cmd import election
from cli.genesis_cmd import genesis
from cli.i18n import set_language
from cli.keys_cmd import keys
from cli.localnet_cmd import localnet
from cli.node_cmd import node
from cli.registrar_cmd import registrar
from cli.trustee_cmd import trustee
from cli.vote_cmd import receipt, vote
from cli.voter_cmd import voter
from cli.voters_cmd import voters

try:
    __version__ = version("ballotchain")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ballotchain")
def cli() -> None:
    """Ballotchain: a permissioned PBFT ledger for verifiable municipal internet voting."""
    # Officials' commands speak English; voter-facing ones choose with --lang (cli.i18n).
    set_language("en")


cli.add_command(keys)
cli.add_command(genesis)
cli.add_command(demo)
cli.add_command(node)
cli.add_command(localnet)
cli.add_command(card_authority)
cli.add_command(voter)
cli.add_command(voters)
cli.add_command(registrar)
cli.add_command(audit)
cli.add_command(election)
cli.add_command(trustee)
cli.add_command(vote)
cli.add_command(receipt)


def main() -> None:
    cli(prog_name="ballotchain")


if __name__ == "__main__":  # pragma: no cover
    main()
