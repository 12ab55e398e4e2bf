"""The CLI reference in docs/cli.md, generated from the click commands themselves.

``python -m cli.reference --docs`` rewrites the block between the markers;
a test fails when docs/cli.md and the commands disagree, so the reference cannot rot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
#: The file the reference is generated into, relative to the repository root.
DOCS_FILE = "docs/cli.md"


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


def docs_with_reference(text: str, root: click.Command) -> str:
    """docs/cli.md text with the generated table between the markers."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown(root)}\n{END}{tail}"


if __name__ == "__main__":  # pragma: no cover
    from cli.main import cli

    if sys.argv[1:] in (["--docs"], ["--readme"]):  # --readme: the flag's name before the table moved
        doc = Path(__file__).resolve().parents[1] / DOCS_FILE
        doc.write_text(docs_with_reference(doc.read_text(), cli))
    else:
        print(markdown(cli))
