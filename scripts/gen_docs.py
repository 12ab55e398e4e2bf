"""Every table in the docs that the code is the source of truth for, from one generator.

A generated table sits between two markers, ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``, in a hand-written document; this script rewrites what lies between
them and nothing else. ``tests/test_generated_docs.py`` fails when a table is stale.

    python scripts/gen_docs.py            rewrite every table
    python scripts/gen_docs.py --check    list stale tables, exit 1 if any

The tables: the error guide (docs/errors.md, every code with its meaning and what to
do), the CLI reference (docs/cli.md, from the click commands) and the chain's rejection
codes (docs/chain.md). Add a table by adding a ``Table`` to ``TABLES``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the chain's own codes: what a transaction, block, state, store or audit refuses
CHAIN_PREFIXES = ("TX_", "BLOCK_", "STATE_", "STORE_", "AUDIT_")


@dataclass(frozen=True)
class Table:
    path: str  # relative to the repository root
    name: str  # the marker name
    body: Callable[[], str]

    @property
    def start(self) -> str:
        return f"<!-- {self.name}:start -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"


def error_guide() -> str:
    from ballot_tx.error_guide import markdown_guide

    return markdown_guide()


def cli_reference() -> str:
    from cli.main import cli
    from cli.reference import markdown

    return markdown(cli)


def chain_codes() -> str:
    from ballot_tx.errors import CODES, ErrorCode

    rows = ["| code | rejected when |", "| --- | --- |"]
    rows += [f"| `{c}` | {CODES[c]} |" for c in ErrorCode if c.startswith(CHAIN_PREFIXES)]
    return "\n".join(rows)


TABLES = (
    Table("docs/errors.md", "error-codes", error_guide),
    Table("docs/cli.md", "cli-reference", cli_reference),
    Table("docs/chain.md", "chain-codes", chain_codes),
)


class MarkersMissing(ValueError):
    pass


def render(text: str, table: Table) -> str:
    """``text`` with the table's markers enclosing a freshly generated body."""
    head, found, rest = text.partition(table.start)
    if not found or table.end not in rest:
        raise MarkersMissing(f"{table.path}: markers {table.start} ... {table.end} not found")
    _, _, tail = rest.partition(table.end)
    return f"{head}{table.start}\n{table.body()}\n{table.end}{tail}"


def stale(root: Path = ROOT) -> list[str]:
    """The tables whose document differs from what the code generates now."""
    out = []
    for t in TABLES:
        text = (root / t.path).read_text()
        if render(text, t) != text:
            out.append(f"{t.path} ({t.name})")
    return out


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        bad = stale()
        for b in bad:
            print(f"stale: {b}: run python scripts/gen_docs.py")
        return 1 if bad else 0
    if argv:
        print(__doc__)
        return 2
    for t in TABLES:
        path = ROOT / t.path
        path.write_text(render(path.read_text(), t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
