"""The generated tables in docs/ match the code (scripts/gen_docs.py is their one generator)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ballot_tx.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]


def _gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = mod
    spec.loader.exec_module(mod)
    return mod


gen = _gen()


def test_every_generated_table_is_current() -> None:
    assert gen.stale() == [], "run: python scripts/gen_docs.py"


@pytest.mark.parametrize("table", gen.TABLES, ids=lambda t: t.name)
def test_a_changed_table_is_caught_and_only_the_table_is_rewritten(table: object) -> None:
    text = (ROOT / table.path).read_text()  # type: ignore[attr-defined]
    start, end = table.start, table.end  # type: ignore[attr-defined]
    head, rest = text.split(start)
    body, tail = rest.split(end)
    tampered = f"{head}{start}{body.replace('|', '¦', 3)}{end}{tail}"
    assert gen.render(tampered, table) == text  # the prose around it is untouched


def test_markers_missing_is_an_error_not_a_silent_append() -> None:
    with pytest.raises(gen.MarkersMissing):
        gen.render("# no markers here\n", gen.TABLES[0])


def test_the_tables_say_what_they_must() -> None:
    errors = (ROOT / "docs/errors.md").read_text()
    for code in ErrorCode:  # each code has a row saying what it means and what to do
        assert f"| `{code}` |" in errors
    chain = (ROOT / "docs/chain.md").read_text()
    assert all(f"| `{c}` |" in chain for c in ErrorCode if c.startswith(gen.CHAIN_PREFIXES))
    cli_doc = (ROOT / "docs/cli.md").read_text()
    for name in ("election create", "vote", "receipt verify", "audit", "node start"):
        assert f"`ballotchain {name}" in cli_doc
