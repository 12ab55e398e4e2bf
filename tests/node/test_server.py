"""The client API's error discipline: JSON errors with codes and 4xx statuses, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from ballot_tx.errors import BallotchainError, ErrorCode
from node.metrics import Metrics
from node.server import make_app


class Backend:
    """A test double for the runtime: one block, one tx, and a submit that checks hex length."""

    def __init__(self) -> None:
        self.submitted: list[bytes] = []
        self.explode = False

    def status(self) -> dict[str, Any]:
        return {"height": 1, "view": 0, "peers": [], "catching_up": False}

    def block(self, height: int) -> dict[str, Any] | None:
        if self.explode:
            raise RuntimeError("bug")
        return {"height": 1} if height == 1 else None

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None:
        return {"hash": tx_hash.hex()} if tx_hash == b"\x01" * 32 else None

    async def submit_tx(self, raw: bytes, client: str) -> bytes:
        if raw[:1] != b"\x93":
            raise BallotchainError(ErrorCode.CODEC_MALFORMED, "not a transaction")
        self.submitted.append(raw)
        return b"\x02" * 32

    async def wait_commit(self, tx_hash: bytes, timeout_s: float) -> dict[str, Any] | None:
        return {"height": 7} if tx_hash == b"\x02" * 32 else None

    def election(self, election_id: bytes) -> dict[str, Any] | None:
        return None

    def election_result(self, election_id: bytes) -> dict[str, Any] | None:
        return None

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        return None


@pytest.fixture
async def client() -> Any:
    backend = Backend()
    app = make_app(backend, Metrics(), max_request_bytes=4096)
    async with TestClient(TestServer(app)) as c:
        c.backend = backend
        yield c


async def _err(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, await resp.text()
    doc = await resp.json()
    assert doc["error"] == code
    assert isinstance(doc["message"], str) and doc["message"]


async def test_routes_and_errors(client: Any) -> None:
    r = await client.get("/v1/status")
    assert r.status == 200 and (await r.json())["height"] == 1
    assert (await (await client.get("/v1/blocks/1")).json()) == {"height": 1}
    await _err(await client.get("/v1/blocks/2"), 404, "API_NOT_FOUND")
    await _err(await client.get("/v1/blocks/-1"), 400, "API_BAD_REQUEST")
    await _err(await client.get("/v1/blocks/99999999999999999999999"), 400, "API_BAD_REQUEST")
    await _err(await client.get("/v1/txs/zz"), 400, "API_BAD_REQUEST")
    await _err(await client.get("/v1/txs/" + "00" * 32), 404, "API_NOT_FOUND")
    await _err(await client.get("/v1/nothing"), 404, "API_NOT_FOUND")
    await _err(await client.delete("/v1/status"), 405, "API_METHOD_NOT_ALLOWED")
    await _err(await client.get("/v1/elections/" + "00" * 32 + "/result"), 404, "API_NOT_FOUND")


async def test_post_tx(client: Any) -> None:
    r = await client.post("/v1/txs", json={"tx": "93010203"})
    assert r.status == 202
    assert (await r.json()) == {"tracking_code": "02" * 32, "status": "pending"}
    r = await client.post("/v1/txs?wait=commit", data=b"\x93\x01",
                          headers={"Content-Type": "application/msgpack"})
    assert r.status == 200 and (await r.json())["height"] == 7
    await _err(await client.post("/v1/txs", json={"tx": "00"}), 400, "CODEC_MALFORMED")
    await _err(await client.post("/v1/txs", json={"tx": "xyz"}), 400, "API_BAD_REQUEST")
    await _err(await client.post("/v1/txs", json=[1]), 400, "API_BAD_REQUEST")
    await _err(await client.post("/v1/txs", data="{", headers={"Content-Type": "application/json"}),
               400, "API_BAD_REQUEST")
    await _err(await client.post("/v1/txs", data=b"x", headers={"Content-Type": "text/plain"}),
               415, "API_UNSUPPORTED_MEDIA")
    await _err(await client.post("/v1/txs?wait=forever", json={"tx": "93"}), 400, "API_BAD_REQUEST")
    await _err(await client.post("/v1/txs", data=b"\x93" * 5000,
                                 headers={"Content-Type": "application/msgpack"}),
               413, "API_TOO_LARGE")


async def test_unexpected_exception_is_400_and_logged(client: Any, caplog: Any) -> None:
    client.backend.explode = True
    await _err(await client.get("/v1/blocks/1"), 400, "API_BAD_REQUEST")
    assert "unexpected error on request" in caplog.text and "RuntimeError" in caplog.text


async def test_metrics_text(client: Any) -> None:
    await client.get("/v1/blocks/2")
    r = await client.get("/metrics")
    assert r.status == 200 and r.content_type == "text/plain"
    text = await r.text()
    assert 'ballotchain_http_errors_total{code="API_NOT_FOUND"} 1.0' in text
    assert "ballotchain_height" in text and "ballotchain_commit_latency_seconds_bucket" in text


@settings(max_examples=30)
@given(path=st.text(min_size=0, max_size=40), body=st.binary(max_size=200),
       ctype=st.sampled_from(["application/json", "application/msgpack", "text/plain", ""]))
def test_fuzzed_requests_never_500(path: str, body: bytes, ctype: str) -> None:
    import asyncio

    async def run() -> None:
        app = make_app(Backend(), Metrics(), max_request_bytes=4096)
        async with TestClient(TestServer(app)) as c:
            for method in ("GET", "POST"):
                r = await c.request(method, "/v1/" + path.replace("?", "%3F").replace("#", "%23"),
                                    data=body, headers={"Content-Type": ctype} if ctype else {})
                assert r.status < 500
                if r.status >= 400:
                    json.loads(await r.text())

    asyncio.run(run())


def test_app_is_an_aiohttp_app() -> None:
    assert isinstance(make_app(Backend(), Metrics()), web.Application)
