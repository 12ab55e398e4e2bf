"""The page's own parts without a browser: routes of node/web.py, messages in both languages."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ballot_tx.codec import decode, encode
from genesis.document import Genesis, genesis_hash
from node.http_errors import error_middleware
from node.speech_clips import clip_text
from node.web import add_web_routes
from tests.ballot_tx.crypto.helpers import contest, manifest
from tests.ballot_tx.state.helpers import make_genesis
from tests.conftest import skip_unless_setup_installs
from tests.web.jsbridge import WEB, run_js

GENESIS = make_genesis()
M = manifest((contest("mayor", "single", 3), contest("pledges", "rating", 2)))


async def client() -> TestClient[Any, Any]:
    app = web.Application(middlewares=[error_middleware])
    add_web_routes(app, GENESIS)
    c = TestClient(TestServer(app))
    await c.start_server()
    return c


async def test_page_routes_and_headers() -> None:
    c = await client()
    try:
        r = await c.get(f"/vote/{'ab' * 32}")
        assert r.status == 200 and "text/html" in r.headers["Content-Type"]
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval' 'sha256-" in csp and "object-src 'none'" in csp
        assert (await c.get("/vote/")).status == 200
        for ok in ("/vote/static/src/app.js", "/vote/static/style.css", "/vote/vendor/libsodium-sumo.mjs"):
            resp = await c.get(ok)
            assert resp.status == 200, ok
        for bad in ("/vote/static/../pyproject.toml", "/vote/static/tools/gen_schema.py",
                    "/vote/static/node_modules/axe-core/axe.js", "/vote/vendor/other.mjs",
                    "/vote/static/src/../../README.md"):
            assert (await c.get(bad)).status == 404, bad
        g = await c.get("/v1/genesis")
        doc = await g.json()
        assert g.headers["Access-Control-Allow-Origin"] == "*"
        assert genesis_hash(decode(Genesis, bytes.fromhex(doc["genesis_bytes"]))).hex() == doc["chain_id"]
    finally:
        await c.close()


def test_clip_texts_come_from_the_manifest_only() -> None:
    assert clip_text(M, "ja", "c0") == M.contests[0].title.ja
    assert clip_text(M, "en", "c1o1") == M.contests[1].options[1].label.en
    assert clip_text(M, "ja", "n70") == "70点" and clip_text(M, "en", "n100") == "100 points"
    for bad in ("c9", "c0o9", "n55", "n110", "x", "c0o", "hello"):
        assert clip_text(M, "en", bad) is None, bad



def test_clips_read_japanese_labels_by_their_reading() -> None:
    from harness.webpoll import poll_manifest

    m = poll_manifest("yomi", [], "one-time-code", 0, images=False)
    assert m.contests[0].options[0].label.ja == "｜洞峰公園《どうほうこうえん》"
    assert clip_text(m, "ja", "c0o0") == "どうほうこうえん"  # not ホラガミネ
    assert clip_text(m, "en", "c0o0") == "Doho Park"


def test_the_scale_clip_says_the_manifests_ends_or_the_defaults() -> None:
    from harness.webpoll import poll_manifest

    m = poll_manifest("scale", [], "one-time-code", 0, images=False, scale=True)
    # the reading (yomi) of 全面的 is what speech says, as for every label
    assert clip_text(m, "ja", "c2s") == "0は「まったく支持しない」、100は「ぜんめんてきに支持する」です。"
    assert clip_text(m, "en", "c2s") == "0 means “Do not support at all”, 100 means “Fully support”."
    assert clip_text(M, "ja", "c1s") == "0は「まったく評価しない」、100は「とても高く評価する」です。"
    assert clip_text(M, "en", "c1s") == "0 means “not at all”, 100 means “very highly”."
    for bad in ("c0s", "c9s", "c1o0s", "cs"):  # no scale on a single-choice contest
        assert clip_text(M, "en", bad) is None, bad


def test_page_scale_defaults_are_the_manifests_defaults() -> None:
    """The page's catalog and ballot_tx say the same thing when a manifest is silent."""
    from ballot_tx.manifest import DEFAULT_SCALE_HIGH, DEFAULT_SCALE_LOW

    (res,) = run_js([{"op": "messages"}])
    msgs = res["ok"]
    for lang in ("ja", "en"):
        assert msgs[lang]["scale_low"] == getattr(DEFAULT_SCALE_LOW, lang)
        assert msgs[lang]["scale_high"] == getattr(DEFAULT_SCALE_HIGH, lang)


def test_tracking_code_digits_are_clips_read_letter_by_letter() -> None:
    assert clip_text(M, "ja", "hf") == "エフ" and clip_text(M, "ja", "h0") == "ゼロ"
    assert clip_text(M, "en", "ha") == "A" and clip_text(M, "en", "h7") == "7"
    for bad in ("hg", "h", "hA", "h10"):
        assert clip_text(M, "en", bad) is None, bad


def test_both_languages_have_every_message() -> None:
    (res,) = run_js([{"op": "messages"}])
    msgs = res["ok"]
    assert set(msgs["ja"]) == set(msgs["en"])
    assert set(msgs["ja"]["errors"]) == set(msgs["en"]["errors"])
    placeholders = re.compile(r"\{(\w+)\}")
    for key, text in msgs["en"].items():
        if isinstance(text, str):
            assert set(placeholders.findall(text)) == set(placeholders.findall(msgs["ja"][key])), key
    # every key the page asks for exists
    used = set(re.findall(r"tr\('(\w+)'", (WEB / "src" / "app.js").read_text()))
    assert used and used <= set(msgs["en"]), used - set(msgs["en"])


def test_one_time_codes_normalize_like_python() -> None:
    from ballot_tx.eligibility.one_time_code import code_from_seed, code_keys, normalize
    from ballot_tx.errors import BallotchainError

    eid, salt = b"\x01" * 32, b"\x02" * 32
    good = code_from_seed(eid, 3)
    typed = [good, good.lower(), "-".join(good[i:i + 4] for i in range(0, 16, 4)),
             good.replace("0", "O").replace("1", "I"), "".join(chr(ord(ch) + 0xFEE0) for ch in good),
             good[:-1] + ("0" if good[-1] != "0" else "1"), good[1:], good + "A", "??"]
    got = run_js([{"op": "otc", "eid": eid.hex(), "salt": salt.hex(), "code": t} for t in typed])
    for t, g in zip(typed, got, strict=True):
        try:
            want: Any = {"ok": {"code": normalize(t), "public": code_keys(eid, salt, t).ed25519_public.hex()}}
        except BallotchainError as e:
            want = {"error": str(e.code)}
        assert {k: v for k, v in g.items() if k != "message"} == want, t


def test_encode_roundtrip_of_manifest_used_here() -> None:
    assert decode(type(M), encode(M)) == M


class _Backend:
    def election(self, eid: bytes) -> dict[str, Any] | None:
        from ballot_tx.manifest import election_id

        return {"manifest_bytes": encode(M).hex()} if eid == election_id(M) else None


async def test_read_aloud_clips_are_rendered_and_cached() -> None:
    import shutil

    from ballot_tx.manifest import election_id
    from node.server import BACKEND_KEY

    if shutil.which("espeak-ng") is None:
        skip_unless_setup_installs("espeak-ng is not installed", extra="speech")
    app = web.Application(middlewares=[error_middleware])
    add_web_routes(app, GENESIS)
    app[BACKEND_KEY] = _Backend()  # type: ignore[assignment]
    c = TestClient(TestServer(app))
    await c.start_server()
    try:
        eid = election_id(M).hex()
        r = await c.get(f"/vote/speech/{eid}/en/c0.wav")
        assert r.status == 200 and r.headers["Content-Type"] == "audio/wav"
        wav = await r.read()
        assert wav[:4] == b"RIFF" and len(wav) > 8000  # about a second of speech
        ja = await c.get(f"/vote/speech/{eid}/ja/c0o1.wav")  # Open JTalk reads the kanji label
        assert ja.status == 200 and (await ja.read())[:4] == b"RIFF"
        again = await c.get(f"/vote/speech/{eid}/en/c0.wav")
        assert await again.read() == wav  # served from the cache
        for bad in (f"/vote/speech/{eid}/en/c9.wav", f"/vote/speech/{eid}/fr/c0.wav",
                    f"/vote/speech/{'00' * 32}/en/c0.wav", f"/vote/speech/{eid}/en/hello.wav"):
            assert (await c.get(bad)).status == 404, bad
    finally:
        await c.close()
