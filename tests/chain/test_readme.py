"""docs/chain.md lists every chain rejection code (regenerate: python tests/chain/test_readme.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "chain.md"
START, END = "<!-- chain-codes:start -->", "<!-- chain-codes:end -->"
PREFIXES = ("TX_", "BLOCK_", "STATE_", "STORE_", "AUDIT_")


def table() -> str:
    from ballot_tx.errors import CODES, ErrorCode

    rows = ["| code | rejected when |", "| --- | --- |"]
    rows += [f"| `{c}` | {CODES[c]} |" for c in ErrorCode if c.startswith(PREFIXES)]
    return "\n".join(rows)


def with_table(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def test_chain_doc_lists_every_chain_code() -> None:
    text = DOC.read_text()
    assert START in text and with_table(text) == text, "run: python tests/chain/test_readme.py"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    DOC.write_text(with_table(DOC.read_text()))
