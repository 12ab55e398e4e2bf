"""The browser's wire schema and shared constants are generated from the Python code and must be current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.jsbridge import WEB, gen_schema


def test_committed_schema_matches_the_python_wire_classes() -> None:
    mod = gen_schema()
    committed = (WEB / "src" / "schema.js").read_text()
    assert committed == mod.render(), "web/src/schema.js is stale: run python web/tools/gen_schema.py"


def test_schema_describes_every_field_kind() -> None:
    from tests.ballot_tx.test_codec import Sample

    classes = gen_schema().schema_of([Sample])["classes"]
    fields = dict((name, t) for name, t in classes["Sample"]["fields"])
    assert fields["flag"] == ["bool"]
    assert fields["small"] == ["int", "0", "255"]
    assert fields["signed"] == ["int", str(-(2**63)), str(2**64 - 1)]
    assert fields["key"] == ["bytes", 32, None]
    assert fields["items"] == ["tuple", ["obj", "Leaf"], 5]
    assert fields["maybe"] == ["opt", ["obj", "Leaf"]]
    assert fields["variant"] == ["union", ["Leaf", "Other"]]
    assert classes["Leaf"]["tag"] == 1 and classes["Sample"]["kind"] == "test/sample"


def test_committed_constants_match_the_python_ones() -> None:
    mod = gen_schema()
    committed = (WEB / "src" / "constants.js").read_text()
    assert committed == mod.render_constants(), (
        "web/src/constants.js is stale: run python web/tools/gen_schema.py"
    )


def test_no_page_module_restates_a_generated_constant() -> None:
    """Each shared constant is declared once, in the generated module; the page imports it."""
    names = [name for name, _spec, _why in gen_schema().CONSTANTS]
    restated = [
        f"{src.relative_to(WEB)}: {name}"
        for src in sorted((WEB / "src").rglob("*.js"))
        if src.name != "constants.js"
        for name in names
        if re.search(rf"\b(const|let|var)\s+{name}\s*=", src.read_text())
    ]
    assert restated == []


def test_the_check_mode_names_a_stale_constants_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = gen_schema()
    stale = tmp_path / "constants.js"
    stale.write_text(mod.render_constants().replace("3600000", "600000"))
    monkeypatch.setattr(mod, "CONSTANTS_OUT", stale)
    monkeypatch.setattr(mod, "OUT", WEB / "src" / "schema.js")
    monkeypatch.setattr("sys.argv", ["gen_schema.py", "--check"])
    assert mod.main() == 1
    stale.write_text(mod.render_constants())
    assert mod.main() == 0
