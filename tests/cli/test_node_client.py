"""The CLI's HTTP client against a real HTTP server: answers, node errors, no node at all."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ballot_tx.errors import ErrorCode
from cli.node_client import NodeClient, NodeError


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/v1/status":
            self._send(200, json.dumps({"height": 7}).encode())
        elif self.path == "/v1/html":
            self._send(200, b"<html>", "text/html")
        elif self.path == "/v1/teapot":
            self._send(418, b"short and stout", "text/plain")
        else:
            self._send(404, json.dumps({"error": "API_NOT_FOUND", "message": "no such thing"}).encode())

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers["Content-Length"])
        doc = json.loads(self.rfile.read(n))
        code = doc["tx"][:8]
        self._send(200, json.dumps({"tracking_code": code, "status": "committed",
                                    "wait": self.path.endswith("wait=commit")}).encode())


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_answers_and_errors(url: str) -> None:
    c = NodeClient(url)
    assert c.status() == {"height": 7}
    assert c.post_tx(b"\xab\xcd\xef\x01\x02") == {"tracking_code": "abcdef01", "status": "committed",
                                                  "wait": True}
    with pytest.raises(NodeError) as ei:
        c.receipt(bytes(32))
    assert ei.value.code == ErrorCode.API_NOT_FOUND and ei.value.message == "no such thing"
    for path in ("/v1/html", "/v1/teapot"):
        with pytest.raises(NodeError) as ei:
            c.get(path)
        assert ei.value.code == ErrorCode.CLI_NODE_BAD_RESPONSE


def test_no_node_and_bad_url() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(NodeError) as ei:
        NodeClient(f"127.0.0.1:{port}", timeout_s=5).status()
    assert ei.value.code == ErrorCode.CLI_NODE_UNREACHABLE and str(port) in ei.value.message
    with pytest.raises(NodeError) as ei:
        NodeClient("ftp://x")
    assert ei.value.code == ErrorCode.USAGE
