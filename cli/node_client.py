"""Talking to a node's client API (JSON over HTTP), for every CLI command that needs one.

Standard library only (``urllib``): a CLI call is a handful of requests, so a
blocking client is simplest. A node's JSON error ``{"error": CODE, "message": ...}``
becomes a ``BallotchainError`` with that code, so the person sees the node's own
sentence; a node that cannot be reached or that answers something else gets
CLI_NODE_UNREACHABLE / CLI_NODE_BAD_RESPONSE, never a traceback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from ballot_tx.errors import BallotchainError, ErrorCode


class NodeError(BallotchainError):
    """A failure reported by, or in reaching, a node."""


def _code(value: object) -> ErrorCode:
    try:
        return ErrorCode(str(value))
    except ValueError:
        return ErrorCode.CLI_NODE_BAD_RESPONSE


class NodeClient:
    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NodeError(ErrorCode.USAGE, f"{url!r} is not a node URL like http://127.0.0.1:7100")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Accept": "application/json",
                                              **({"Content-Type": "application/json"}
                                                 if data is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                doc = json.loads(raw)
                raise NodeError(_code(doc["error"]), str(doc["message"])) from None
            except (ValueError, KeyError, TypeError):
                raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE,
                                f"{self.base} answered HTTP {e.code} to {method} {path}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise NodeError(ErrorCode.CLI_NODE_UNREACHABLE,
                            f"cannot reach the node at {self.base} ({reason})") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE,
                            f"{self.base} answered {method} {path} with something that is not JSON"
                            ) from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post_tx(self, raw: bytes, wait: bool = True) -> dict[str, Any]:
        """Submit canonical transaction bytes; with ``wait`` return once committed."""
        doc = self.request("POST", "/v1/txs" + ("?wait=commit" if wait else ""), {"tx": raw.hex()})
        if not isinstance(doc, dict) or "tracking_code" not in doc:
            raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, "the node did not return a tracking code")
        return doc

    # The routes of DESIGN.md's client API.
    def status(self) -> dict[str, Any]:
        return dict(self.get("/v1/status"))

    def election(self, eid: bytes) -> dict[str, Any]:
        return dict(self.get(f"/v1/elections/{eid.hex()}"))

    def result(self, eid: bytes) -> dict[str, Any]:
        return dict(self.get(f"/v1/elections/{eid.hex()}/result"))

    def receipt(self, code: bytes) -> dict[str, Any]:
        return dict(self.get(f"/v1/receipts/{code.hex()}"))

    def block(self, height: int) -> dict[str, Any]:
        return dict(self.get(f"/v1/blocks/{height}"))

    def tx(self, h: bytes) -> dict[str, Any]:
        return dict(self.get(f"/v1/txs/{h.hex()}"))

    def genesis(self) -> dict[str, Any]:
        return dict(self.get("/v1/genesis"))

    def ballot(self, code: str) -> dict[str, Any]:
        """The public ballot box's entry for a full tracking code or a unique short form."""
        return dict(self.get(f"/v1/ballots/{code}"))
