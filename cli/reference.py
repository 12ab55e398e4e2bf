"""The CLI reference in README, generated from the click commands themselves.

``python -m cli.reference --readme`` rewrites the block between the markers;
a test fails when README and the commands disagree, so the reference cannot rot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"


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


def readme_with_reference(readme: str, root: click.Command) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown(root)}\n{END}{tail}"


if __name__ == "__main__":  # pragma: no cover
    from cli.main import cli

    if sys.argv[1:] == ["--readme"]:
        readme = Path(__file__).resolve().parents[1] / "README.md"
        readme.write_text(readme_with_reference(readme.read_text(), cli))
    else:
        print(markdown(cli))
