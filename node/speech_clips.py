"""The voting page's read-aloud clips: ``GET /vote/speech/{election}/{lang}/{clip}.wav``.

A clip of the manifest read aloud (``c<i>`` contest title, ``c<i>o<j>`` option, ``c<i>s``
what a rating's ends mean, ``n<v>`` a rating, ``h<x>`` one hex digit of a tracking code:
the page fetches all 16 and plays the code's short form), rendered with the project's
speech engines (``node/speech.py``) and cached per manifest and language. Clips are named
by position, never by the voter's text, so a request cannot make the node synthesize
arbitrary speech, and the page fetches every clip of an election before playing the
chosen ones, so which clips it asks for does not reveal a vote.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from typing import Any

from aiohttp import web

from ballot_tx import yomi
from ballot_tx.codec import decode
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.manifest import Manifest, scale_ends
from node import logs
from node.http_errors import ApiError, error_response
from node.server import BACKEND_KEY

log = logs.get("web")

CLIP_RE = re.compile(r"c(\d{1,2})(?:o(\d{1,2})|(s))?|n(\d{1,3})|h([0-9a-f])")
CLIP_CACHE_MAX = 1024

CLIPS_KEY = web.AppKey("web_clips", OrderedDict)


def clip_text(m: Manifest, lang: str, clip: str) -> str | None:
    """The text of one read-aloud clip of a manifest, or None if there is no such clip."""
    match = CLIP_RE.fullmatch(clip)
    if not match:
        return None
    ci, oi, scale, level, digit = match.groups()
    if digit is not None:  # one character of a tracking code, for reading it out letter by letter
        return yomi.HEX_READINGS_JA[digit] if lang == "ja" else digit.upper()
    if level is not None:
        v = int(level)
        if v % 10 or v > 100:
            return None
        return f"{v}点" if lang == "ja" else f"{v} points"
    i = int(ci)
    if i >= len(m.contests):
        return None
    c = m.contests[i]
    if scale is not None:  # what 0 and 100 mean (the manifest's labels, else the defaults)
        if c.kind != "rating":
            return None
        low, high = scale_ends(c)
        if lang == "ja":
            return f"0は「{yomi.spoken(low.ja)}」、100は「{yomi.spoken(high.ja)}」です。"
        return f"0 means “{low.en}”, 100 means “{high.en}”."
    lbl = c.title if oi is None else (c.options[int(oi)].label if int(oi) < len(c.options) else None)
    if lbl is None:
        return None
    # Japanese is read by its reading (yomi) where the manifest gives one: 洞峰 as どうほう
    return yomi.spoken(lbl.ja) if lang == "ja" else lbl.en


def _synthesize_wav(text: str, lang: str) -> bytes:
    # The speech engines (node/speech.py) are optional; imported here lazily so
    # a node without them still serves the page (the clip route then answers an error).
    from node import speech

    return speech.synthesize(text, lang).wav_bytes()


async def speech_clip(request: web.Request) -> web.Response:
    eid_hex = request.match_info["eid"]
    lang = request.match_info["lang"]
    clip = request.match_info["clip"]
    if lang not in ("ja", "en") or not re.fullmatch(r"[0-9a-f]{64}", eid_hex):
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such clip")
    view: dict[str, Any] | None = request.app[BACKEND_KEY].election(bytes.fromhex(eid_hex))
    if view is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, f"no election {eid_hex}")
    manifest_bytes = bytes.fromhex(view["manifest_bytes"])
    text = clip_text(decode(Manifest, manifest_bytes), lang, clip)
    if text is None:
        raise ApiError(ErrorCode.API_NOT_FOUND, "no such clip")
    cache = request.app[CLIPS_KEY]
    key = (hashlib.sha256(manifest_bytes).digest(), lang, clip)
    wav = cache.get(key)
    if wav is None:
        try:
            wav = await asyncio.get_running_loop().run_in_executor(None, _synthesize_wav, text, lang)
        except BallotchainError as e:
            return error_response(e.code, e.message, 503)
        except Exception as e:  # a missing engine or a crash of one must not take the node down
            log.warning("speech synthesis failed", error=repr(e))
            return error_response(ErrorCode.SPEECH_FAILED, "speech could not be synthesized", 503)
        cache[key] = wav
        while len(cache) > CLIP_CACHE_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return web.Response(body=wav, content_type="audio/wav", headers={"Cache-Control": "max-age=86400"})


def add_clip_routes(app: web.Application) -> None:
    app[CLIPS_KEY] = OrderedDict()
    app.router.add_get(r"/vote/speech/{eid}/{lang}/{clip}.wav", speech_clip)
