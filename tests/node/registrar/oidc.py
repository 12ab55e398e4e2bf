"""A real OpenID Connect provider for tests (tests/oidc/provider.mjs: the certified
``oidc-provider`` npm package under node), and a person signing in to it.

``scripts/_setup_web.sh`` installs the package into tests/oidc/node_modules.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from node import localnet as ln

OIDC_DIR = Path(__file__).resolve().parents[2] / "oidc"
FORM_RE = re.compile(r'<form[^>]*action="([^"]+)"')
PROMPT_RE = re.compile(r'name="prompt" value="([a-z]+)"')


@contextmanager
def provider(clients: list[dict[str, Any]], id_token_ttl: int = 3600) -> Iterator[str]:
    """Run the provider on a free loopback port; yields its issuer URL; stops it on exit."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test OpenID Connect provider is not installed: run scripts/_setup_web.sh")
    port = ln.free_base_port(1)
    cfg = json.dumps({"clients": clients, "id_token_ttl": id_token_ttl})
    proc = subprocess.Popen(["node", str(OIDC_DIR / "provider.mjs"), str(port), cfg],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready "):
            raise AssertionError(f"the OpenID Connect provider did not start: {line!r}")
        yield line.split()[1]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client_session() -> aiohttp.ClientSession:
    """A browser-like session: keeps the provider's cookies (even for 127.0.0.1)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(session: aiohttp.ClientSession, authorization_url: str, login: str,
                  redirect_prefix: str) -> str:
    """Sign in as ``login`` (the test provider takes any password) and consent, as a person
    would in the browser; returns the address the provider sends the browser back to."""
    url, method, data = authorization_url, "GET", None
    for _ in range(16):
        async with session.request(method, url, data=data, allow_redirects=False) as r:
            if r.status in (302, 303, 307):
                url = urljoin(url, r.headers["Location"])
                if url.startswith(redirect_prefix):
                    return url
                method, data = "GET", None
                continue
            page = await r.text()
            assert r.status == 200, f"the provider answered {r.status}: {page[:300]}"
        form, prompt = FORM_RE.search(page), PROMPT_RE.search(page)
        assert form and prompt, f"no sign-in form on the provider's page: {page[:300]}"
        data = ({"prompt": "login", "login": login, "password": "any"}
                if prompt.group(1) == "login" else {"prompt": prompt.group(1)})
        url, method = urljoin(url, html.unescape(form.group(1))), "POST"
    raise AssertionError("the provider never sent the browser back")
