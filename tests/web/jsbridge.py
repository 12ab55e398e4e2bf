"""Run the browser modules under Node from pytest (``web/test/cross.mjs``).

One Node process answers a whole batch of operations, so a test sends its cases
together. Results are ``{"ok": value}``, ``{"error": CODE}`` or ``{"crash": text}``;
a crash is always a test failure (the JavaScript threw something that is not a
Ballotchain error).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SETUP_HINT = "run scripts/_setup_web.sh (scripts/test does it) to install Node packages"


def require_node() -> None:
    """Fail loudly (not skip) when the web toolchain is missing: CI must run these."""
    if shutil.which("node") is None:
        raise AssertionError(f"node is not installed; {SETUP_HINT}")
    if not (WEB / "node_modules" / "libsodium-wrappers-sumo").is_dir():
        raise AssertionError(f"web/node_modules is missing; {SETUP_HINT}")


def run_js(requests: list[dict[str, Any]], timeout: float = 120) -> list[dict[str, Any]]:
    require_node()
    proc = subprocess.run(
        ["node", "test/cross.mjs"],
        cwd=WEB,
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"node failed:\n{proc.stderr}"
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(requests)
    for req, res in zip(requests, results, strict=True):
        assert "crash" not in res, f"JavaScript crashed on {req.get('op')}: {res['crash']}"
    return results


def gen_schema() -> ModuleType:
    """``web/tools/gen_schema.py`` as a module (it is a tool, not a package)."""
    spec = importlib.util.spec_from_file_location("gen_schema", WEB / "tools" / "gen_schema.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def schema_for(*classes: type) -> dict[str, Any]:
    """The JSON schema of some wire classes (for test-only classes the page does not know)."""
    result: dict[str, Any] = gen_schema().schema_of(list(classes))
    return result
