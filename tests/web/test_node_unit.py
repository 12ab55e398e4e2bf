"""Run the JavaScript unit tests (``web/test/unit/*.test.mjs``, node's test runner) under pytest."""

from __future__ import annotations

import subprocess

from tests.web.jsbridge import WEB, require_node


def test_node_unit_tests_pass() -> None:
    require_node()
    files = sorted(str(p.relative_to(WEB)) for p in (WEB / "test" / "unit").glob("*.test.mjs"))
    assert files, "no JavaScript unit tests found"
    proc = subprocess.run(
        ["node", "--test", *files], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout
