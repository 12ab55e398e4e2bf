"""The city's OpenID Connect provider, as one registrar client talks to it.

Discovery (the document must name the issuer asked for), the JWKS (refetched when a token
names a key not seen yet, at most every ``JWKS_REFRESH_S``), the authorization request
(code flow, PKCE S256, ``state`` and ``nonce``) and the token endpoint (a confidential
client authenticates with ``client_secret_basic``, a public one with PKCE only). Which
provider and client id are right is the election manifest's to say: see ``service.py``.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote_plus, urlencode

import aiohttp

from ballot_tx.eligibility import city_login as cl
from ballot_tx.errors import ErrorCode
from node.registrar.config import origin_of
from node.registrar.errors import RegistrarError

JWKS_REFRESH_S = 60.0


class Provider:
    """The city's OpenID Connect provider as the registrar uses it (a confidential or
    public client): discovery, the JWKS (refetched when a token names an unknown key)
    and the token endpoint."""

    def __init__(self, issuer: str, client_id: str, redirect_uri: str, client_secret: str | None,
                 session: aiohttp.ClientSession) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.client_secret = client_secret
        self.session = session
        self._meta: dict[str, Any] | None = None
        self._jwks: Any = None
        self._jwks_at = 0.0

    async def _get(self, url: str) -> Any:
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=15)) as resp:
                if resp.status != 200:
                    raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                         f"the identity provider answered HTTP {resp.status}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                 f"the identity provider cannot be reached ({type(e).__name__})"
                                 ) from None

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            doc = await self._get(self.issuer + "/.well-known/openid-configuration")
            if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
                # OpenID Connect Discovery 4.3: the document must name the issuer asked for
                raise RegistrarError(ErrorCode.ELIGIBILITY_WRONG_ISSUER,
                                     "the provider's discovery document names another issuer")
            for k in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(k), str) or origin_of(doc[k]) is None:
                    raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                         f"the provider's discovery document lacks {k}")
            self._meta = doc
        return self._meta

    async def keys(self, kid: str | None) -> Any:
        now = time.monotonic()
        stale = self._jwks is None or (
            kid is not None and not any(k.kid == kid for k in self._jwks.keys)
            and now - self._jwks_at > JWKS_REFRESH_S)
        if stale:
            doc = await self._get((await self.metadata())["jwks_uri"])
            self._jwks = cl.key_set(doc)
            self._jwks_at = now
        return self._jwks

    def request_params(self, state: str, nonce: str, verifier: str, scope: str) -> dict[str, str]:
        """An authorization request's parameters, but the client id (the page has it from
        the manifest): code flow, PKCE S256, ``state`` and ``nonce``."""
        return {"response_type": "code", "redirect_uri": self.redirect_uri, "scope": scope,
                "state": state, "nonce": nonce, "code_challenge": cl.pkce_challenge(verifier),
                "code_challenge_method": "S256"}

    async def authorization_url(self, state: str, nonce: str, verifier: str, scope: str) -> str:
        meta = await self.metadata()
        query = urlencode({"client_id": self.client_id,
                           **self.request_params(state, nonce, verifier, scope)})
        return f"{meta['authorization_endpoint']}?{query}"

    async def exchange(self, code: str, verifier: str) -> str:
        """The ID token for an authorization code (RFC 6749 4.1.3, RFC 7636 4.5)."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "code_verifier": verifier}
        headers = {"Accept": "application/json"}
        if self.client_secret is None:
            form["client_id"] = self.client_id
        else:  # client_secret_basic: each part form-urlencoded first (RFC 6749 2.3.1)
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with self.session.post(meta["token_endpoint"], data=form, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=15)) as resp:
                doc = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                 f"the token endpoint cannot be reached ({type(e).__name__})"
                                 ) from None
        if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("id_token"), str):
            err = doc.get("error") if isinstance(doc, dict) else None
            raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                 f"the identity provider refused the code ({str(err)[:80]})")
        token: str = doc["id_token"]
        return token
