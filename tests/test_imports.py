"""Every module of every package imports on its own, in a fresh interpreter (issue 18).

A module that imports only because another was imported first (an import cycle resolved
by luck, a name patched in by a sibling) breaks the first program that imports it
alone. One clean interpreter imports the third-party libraries, then forks a child per
project module; the child imports that one module and nothing else of the project
first, so each import starts from the same state as ``python -c "import MODULE"``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ballot_tx", "consensus", "genesis", "node", "cli", "harness")

CHILD = r"""
import importlib, os, sys
# third-party libraries first: they are not what this test is about, and loading them
# once keeps each child's import quick
for lib in ("aiohttp", "nacl.bindings", "msgpack", "click", "plyvel", "prometheus_client",
            "cryptography", "joserfc", "rbcl"):
    try:
        importlib.import_module(lib)
    except ImportError:
        pass
# rbcl leaves a copy of libsodium in the temporary directory (see ballot_tx/crypto/sodium.py)
_copy = getattr(sys.modules.get("rbcl._sodium"), "lib_path", None)
if _copy:
    os.unlink(_copy)
assert not any(m.split(".")[0] in {PACKAGES!r} for m in sys.modules), "project imported early"
failed = []
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            os._exit(0)
        except BaseException as e:  # report any failure, then leave without cleanup
            os.write(w, f"{{type(e).__name__}}: {{e}}".encode()[:2000])
            os._exit(1)
    os.close(w)
    msg = os.read(r, 4000).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(f"{{name}}: {{msg}}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def project_modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            if "__main__" not in parts:
                names.append(".".join(parts))
    return names


def test_the_module_list_is_not_empty_and_covers_every_package() -> None:
    names = project_modules()
    assert {n.split(".")[0] for n in names} == set(PACKAGES)
    assert len(names) > 100


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    script = CHILD.format(PACKAGES=set(PACKAGES))
    p = subprocess.run([sys.executable, "-c", script, *project_modules()], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


#: test directories that are not a package's mirror: the spec and its independent
#: verifier, the vectors, the voting page (web/), deployment, and the OIDC test provider
CROSS_CUTTING = {"spec", "independent", "vectors", "web", "deploy", "oidc"}


def test_tests_mirror_the_packages() -> None:
    dirs = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert dirs - CROSS_CUTTING <= set(PACKAGES), dirs - CROSS_CUTTING - set(PACKAGES)
    loose = [p.name for p in (ROOT / "tests").glob("test_*.py")]
    # only whole-repository tests stay at the top: the demo, docs, imports
    assert all(n.startswith(("test_demo", "test_setup_demo", "test_docs", "test_generated",
                             "test_imports")) for n in loose), loose
