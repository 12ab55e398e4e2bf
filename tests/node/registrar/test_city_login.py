"""``city-login`` ID-token checks against tokens a real OpenID Connect provider issued.

Two providers run (the certified ``oidc-provider`` package): the city's, with the
registrar's client and another client, and a second one standing for another
issuer. Every attack is a real token, altered or misdirected, refused with its code.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwk, jwt

from ballot_tx.eligibility import city_login as cl
from ballot_tx.eligibility.idcard import CardIdentity, card_tag
from ballot_tx.errors import BallotchainError, EligibilityError, ErrorCode
from node.registrar.provider import Provider
from tests.node.registrar.oidc import client_session, provider, sign_in

SECRET = "registrar-client-secret-0123456789abcdef"
OTHER_SECRET = "another-client-secret-0123456789abcdef"
REDIRECT = "http://127.0.0.1:9/cb"  # never contacted: the test stops at the redirect
CLIENTS = [
    {"client_id": "ballotchain-registrar", "client_secret": SECRET, "redirect_uris": [REDIRECT]},
    {"client_id": "city-library-app", "client_secret": OTHER_SECRET, "redirect_uris": [REDIRECT]},
]
EID = bytes(range(32))


@pytest.fixture(scope="module")
def issuers() -> Iterator[tuple[str, str]]:
    with provider(CLIENTS) as city, provider(CLIENTS[:1]) as other:
        yield city, other


async def token_for(issuer: str, client_id: str, secret: str, login: str) -> tuple[str, str, Any]:
    """A sign-in by ``login`` for ``client_id``: (ID token, its nonce, the provider's keys)."""
    async with client_session() as s:
        p = Provider(issuer, client_id, REDIRECT, secret, s)
        state, nonce, verifier = (secrets.token_urlsafe(16), secrets.token_urlsafe(16),
                                  secrets.token_urlsafe(48))
        back = await sign_in(s, await p.authorization_url(state, nonce, verifier, "openid"),
                             login, REDIRECT)
        assert f"state={state}" in back
        code = back.split("code=")[1].split("&")[0]
        token = await p.exchange(code, verifier)
        return token, nonce, await p.keys(cl.token_key_id(token))


def refused(code: ErrorCode, token: str, keys: Any, issuer: str, nonce: str,
            client_id: str = "ballotchain-registrar", now: int | None = None) -> str:
    with pytest.raises(EligibilityError) as e:
        cl.verify_id_token(token, keys, issuer, client_id, nonce,
                           int(time.time()) if now is None else now)
    assert e.value.code == code, e.value
    return e.value.message


def b64(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return body


async def test_a_real_token_verifies_and_makes_an_unlinkable_tag(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    token, nonce, keys = await token_for(city, "ballotchain-registrar", SECRET, "tsukuba-hanako")
    v = cl.verify_id_token(token, keys, city, "ballotchain-registrar", nonce, int(time.time()))
    assert v == cl.VerifiedLogin(city, "tsukuba-hanako")
    key = cl.login_tag_key(b"\x07" * 32)
    tag = cl.login_tag(key, EID, city, v.subject)
    # one login, one tag per election; another election or another registrar secret: unlinkable
    assert tag == cl.login_tag(key, EID, city, "tsukuba-hanako")
    assert tag != cl.login_tag(key, bytes(32), city, "tsukuba-hanako")
    assert tag != cl.login_tag(cl.login_tag_key(b"\x08" * 32), EID, city, "tsukuba-hanako")
    assert tag != cl.login_tag(key, EID, city, "tsukuba-taro")
    # domain-separated from the ID-card tag even with the same key and bytes
    assert tag != card_tag(key, EID, CardIdentity(city, "tsukuba-hanako"))
    assert b"hanako" not in tag


async def test_forged_tokens_are_refused(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    token, nonce, keys = await token_for(city, "ballotchain-registrar", SECRET, "forger")
    head, body, sig = token.split(".")
    # 1. the real signature over a changed subject
    claims = claims_of(token)
    forged = ".".join([head, b64({**claims, "sub": "someone-else"}), sig])
    msg = refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, forged, keys, city, nonce)
    assert "not signed by the identity provider" in msg
    # 2. a token signed by the attacker's own key under the provider's key id
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    attacker = jwk.RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    minted = jwt.encode({"alg": "RS256", "kid": header["kid"]}, {**claims, "sub": "someone-else"},
                        attacker)
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, minted, keys, city, nonce)
    # 3. alg none, and HS256 keyed with the client secret the attacker might have stolen
    unsigned = b64({"alg": "none"}) + "." + b64(claims) + "."
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, unsigned, keys, city, nonce)
    hmac = jwt.encode({"alg": "HS256"}, claims, jwk.OctKey.import_key(SECRET.encode()))
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, hmac, keys, city, nonce)
    # 4. not a token at all
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, "not.a.token", keys, city, nonce)
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, "", keys, city, nonce)


async def test_expired_token_is_refused(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    token, nonce, keys = await token_for(city, "ballotchain-registrar", SECRET, "late-voter")
    exp = int(claims_of(token)["exp"])
    assert cl.verify_id_token(token, keys, city, "ballotchain-registrar", nonce, exp - 1)
    msg = refused(ErrorCode.ELIGIBILITY_TOKEN_EXPIRED, token, keys, city, nonce,
                  now=exp + cl.LEEWAY_S + 1)
    assert "expired" in msg


async def test_token_for_another_client_is_refused(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    token, nonce, keys = await token_for(city, "city-library-app", OTHER_SECRET, "reader")
    refused(ErrorCode.ELIGIBILITY_WRONG_AUDIENCE, token, keys, city, nonce)
    # the same token is fine for the client it was issued to: only the audience is wrong
    assert cl.verify_id_token(token, keys, city, "city-library-app", nonce, int(time.time()))


async def test_token_from_another_issuer_is_refused(issuers: tuple[str, str]) -> None:
    city, other = issuers
    token, nonce, other_keys = await token_for(other, "ballotchain-registrar", SECRET, "visitor")
    refused(ErrorCode.ELIGIBILITY_WRONG_ISSUER, token, other_keys, city, nonce)
    _, _, city_keys = await token_for(city, "ballotchain-registrar", SECRET, "resident")
    refused(ErrorCode.ELIGIBILITY_TOKEN_INVALID, token, city_keys, city, nonce)


async def test_replayed_nonce_is_refused(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    token, nonce, keys = await token_for(city, "ballotchain-registrar", SECRET, "replayer")
    # an earlier sign-in's token presented in a new sign-in (which sent another nonce)
    msg = refused(ErrorCode.ELIGIBILITY_NONCE_MISMATCH, token, keys, city,
                  secrets.token_urlsafe(16))
    assert "another sign-in" in msg


async def test_a_stolen_code_is_useless_without_the_pkce_verifier(issuers: tuple[str, str]) -> None:
    city, _ = issuers
    async with client_session() as s:
        p = Provider(city, "ballotchain-registrar", REDIRECT, SECRET, s)
        verifier = secrets.token_urlsafe(48)
        back = await sign_in(s, await p.authorization_url("st", "no", verifier, "openid"),
                             "victim", REDIRECT)
        code = back.split("code=")[1].split("&")[0]
        with pytest.raises(BallotchainError) as e:
            await p.exchange(code, secrets.token_urlsafe(48))
        assert e.value.code == ErrorCode.REGISTRAR_PROVIDER_ERROR
        assert "invalid_grant" in e.value.message
    with pytest.raises(ValueError):
        cl.pkce_challenge("short")
