"""libsodium as rbcl bundles it, without the 2.8 MB copy rbcl leaves behind per process.

rbcl (the ristretto255 binding) writes its bundled libsodium to a new temporary file
each time it is imported and loads it from there, never removing it
(``rbcl/_sodium.py``: ``NamedTemporaryFile(delete=False)``). Every process that imports
the crypto (a node, each of its verification workers, every CLI call, every test
process) left 2.8 MB in the temporary directory: 28,000 files, 79 GB, filled the
development machine's disk on 2026-11-28 and failed a test run with ENOSPC. Once
loaded the library is mapped into the process and its file is not read again, so the
copy is removed right after the import. Every module of the project that calls
libsodium through rbcl imports ``_sodium`` from here.
"""

from __future__ import annotations

import os
import tempfile

from rbcl import _sodium

__all__ = ["_sodium"]


def _remove_loaded_copy() -> None:
    """Delete rbcl's temporary copy of the library, if that is where it was loaded from
    (a libsodium found elsewhere, or a platform that cannot delete a loaded library,
    is left alone)."""
    path = str(getattr(_sodium, "_name", "") or "")
    name = os.path.basename(path)
    if os.path.dirname(path) != tempfile.gettempdir() or not name.startswith("tmp"):
        return
    if not name.endswith((".so", ".pyd")):
        return
    try:
        os.unlink(path)
    except OSError:
        pass


_remove_loaded_copy()
