"""Every error code the browser code raises is one of the stable codes of ballot_tx/errors.py."""

from __future__ import annotations

import re

from ballot_tx.errors import ErrorCode
from tests.web.jsbridge import WEB

CODE_RE = re.compile(r"'([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)'")


def test_js_error_codes_are_in_the_table() -> None:
    known = {c.value for c in ErrorCode}
    used: set[str] = set()
    for path in (WEB / "src").rglob("*.js"):
        used |= set(CODE_RE.findall(path.read_text()))
    assert used, "no codes found: the scan is broken"
    assert used <= known, f"codes missing from ballot_tx/errors.py: {sorted(used - known)}"
    assert {"CODEC_MALFORMED", "KEY_WRONG_PASSWORD", "CRYPTO_BAD_PROOF", "WEB_WRONG_CHAIN"} <= used
