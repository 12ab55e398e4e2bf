"""rbcl writes its libsodium to a new temporary file at every import and never removes
it: 2.8 MB per process (a node, each verification worker, every CLI call). Here a fresh
process imports the crypto with its own temporary directory: the copy is gone once
the import returns, the directory is left empty, and libsodium still answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CODE = """
from ballot_tx.crypto import group as g
from ballot_tx.crypto.sodium import _sodium
from ballot_tx.keys import KeyPair
print(_sodium._name)
assert g.add(g.base(g.sc(2)), g.base(g.sc(3))) == g.base(g.sc(5))
k = KeyPair.from_seed(bytes(32))
assert len(k.ed25519_public) == 32
"""


def test_importing_the_crypto_leaves_no_copy_of_libsodium_behind(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", CODE], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded_from = Path(out.stdout.strip())
    assert loaded_from.parent == tmp_path and loaded_from.name.startswith("tmp")  # rbcl's copy...
    assert not loaded_from.exists() and list(tmp_path.iterdir()) == []  # ...removed, nothing left
