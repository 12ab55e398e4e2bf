"""The browser's wire schema is generated from the Python classes and must be current."""

from __future__ import annotations

from tests.web.jsbridge import WEB, gen_schema


def test_committed_schema_matches_the_python_wire_classes() -> None:
    mod = gen_schema()
    committed = (WEB / "src" / "schema.js").read_text()
    assert committed == mod.render(), "web/src/schema.js is stale: run python web/tools/gen_schema.py"


def test_schema_describes_every_field_kind() -> None:
    from tests.test_codec import Sample

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
