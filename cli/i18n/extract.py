"""Find every message marked for translation in the CLI (``_("literal")`` calls).

``python -m cli.i18n.extract`` lists messages missing from either catalog, so a
translator knows what to add; the test suite fails on the same condition.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from cli.i18n import LANGUAGES, VOTER_ERROR_CODES, parse_po, po_path

CLI_DIR = Path(__file__).resolve().parent.parent


class NonLiteralMessage(ValueError):
    """``_()`` called with something other than one string literal: untranslatable."""


def messages_in(source: str, filename: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
            if (len(node.args) != 1 or node.keywords
                    or not isinstance(node.args[0], ast.Constant)
                    or not isinstance(node.args[0].value, str)):
                raise NonLiteralMessage(f"{filename}:{node.lineno}: _() needs one string literal")
            found.setdefault(node.args[0].value, []).append(f"{filename}:{node.lineno}")
    return found


def used_messages() -> dict[str, list[str]]:
    """msgid -> where it is used, over every CLI module, plus the voter error sentences."""
    from ballot_tx.errors import CODES, ErrorCode

    used: dict[str, list[str]] = {}
    for path in sorted(CLI_DIR.rglob("*.py")):
        for msg, where in messages_in(path.read_text(encoding="utf-8"), str(path)).items():
            used.setdefault(msg, []).extend(where)
    for code in VOTER_ERROR_CODES:
        used.setdefault(CODES[ErrorCode(code)], []).append(f"ballot_tx/errors.py:{code}")
    return used


def missing() -> dict[str, list[str]]:
    """lang -> msgids used in code but absent, empty or fuzzy in that catalog."""
    used = used_messages()
    out: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        cat = parse_po(po_path(lang).read_text(encoding="utf-8"), str(po_path(lang)))
        out[lang] = [m for m in used if m not in cat or not cat[m][0] or cat[m][1]]
    return out


def po_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def append_missing() -> None:
    """Append entries for new messages: English gets msgstr = msgid, other
    languages an empty msgstr for the translator (an empty one counts as missing)."""
    used = used_messages()
    for lang in LANGUAGES:
        path = po_path(lang)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        cat = parse_po(text, str(path)) if text else {}
        new = [m for m in used if m not in cat]
        with path.open("a", encoding="utf-8") as f:
            for m in new:
                f.write(f"\n#: {used[m][0].split('/')[-1]}\nmsgid {po_quote(m)}\n"
                        f"msgstr {po_quote(m if lang == 'en' else '')}\n")


if __name__ == "__main__":  # pragma: no cover
    if "--update" in sys.argv:
        append_missing()
    gaps = missing()
    for lang, msgs in gaps.items():
        for m in msgs:
            print(f"{lang}: missing {m!r}")
    sys.exit(1 if any(gaps.values()) else 0)
