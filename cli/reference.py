"""The CLI reference table, generated from the click commands themselves.

``scripts/gen_docs.py`` writes it into docs/cli.md; a test fails when docs/cli.md and
the commands disagree, so the reference cannot rot.
"""

from __future__ import annotations

import click


def _walk(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
    rows = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            rows += _walk(cmd.commands[name], f"{path} {name}")
    return rows


def _usage(cmd: click.Command, path: str) -> str:
    ctx = click.Context(cmd, info_name=path)
    pieces = cmd.collect_usage_pieces(ctx)
    return " ".join([path, *pieces])


def markdown(root: click.Command) -> str:
    lines = ["| command | what it does |", "| --- | --- |"]
    for path, cmd in _walk(root, "ballotchain")[1:]:
        if isinstance(cmd, click.Group):
            continue
        short = (cmd.get_short_help_str(limit=200) or "").replace("|", "\\|")
        lines.append(f"| `{_usage(cmd, path)}` | {short} |")
    return "\n".join(lines)
