"""``city-login``: the city's own sign-in (OpenID Connect) proves who registers a key.

Tsukuba let voters of some polls authenticate with the city app's login instead of
the My Number Card. Here the registrar service (``node/registrar/``) runs the
OpenID Connect authorization code flow with PKCE, ``state`` and ``nonce`` against
the city's identity provider and checks the ID token it gets back, in this order
(the first failure is the error reported):

1. the token is a JWS signed by a key of the provider's JWKS, with an
   asymmetric algorithm (no ``none``, no HMAC)               ELIGIBILITY_TOKEN_INVALID
2. ``iss`` is the provider the election's manifest names    ELIGIBILITY_WRONG_ISSUER
3. ``aud`` names the manifest's client id (and ``azp``,
   if several audiences)                                    ELIGIBILITY_WRONG_AUDIENCE
4. ``exp`` is in the future                                ELIGIBILITY_TOKEN_EXPIRED
   (and ``iat`` is not; other claims well-typed)            ELIGIBILITY_TOKEN_INVALID
5. ``nonce`` is the one this sign-in sent                   ELIGIBILITY_NONCE_MISMATCH
6. ``sub`` is present                                       ELIGIBILITY_TOKEN_INVALID

Signature and claim checks are joserfc's (a maintained JOSE library); nothing
here parses a JWT by hand.

What reaches the chain is the voter's pseudonymous key with ``login_tag``: a
BLAKE2b hash of (election, issuer, ``sub``) keyed with a secret only the
registrar holds, personalised differently from the ID-card tag. The chain
refuses a second registration with one tag in an election, so one login
registers once per election; nobody without the key can link a tag to a login,
and a login's tags in two elections are unlinkable. On chain the registration
is an ordinary ``RegisterKeys`` transaction, so the state machine needs nothing
new for this method.

The provider is part of the election: the manifest's ``login_provider``
(``LoginProvider``: issuer and client id, checked by ``check_login_provider``) names
it, so every voter, observer and the registrar see the same one, and an election's
tokens are checked against its own provider. The registrar's configuration holds only
the secret side (client secret, redirect URI).

Pure: strings and bytes in, result out; the time is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from ballot_tx.codec import MaxLen, Wire, hash_bytes
from ballot_tx.eligibility.base import RegistrationPlan
from ballot_tx.eligibility.registered_key import RegisteredKey, RegisterKeys
from ballot_tx.errors import EligibilityError, ErrorCode, ManifestError

TAG_PERSON = b"bc/v1/login-tag"
#: Signature algorithms accepted in ID tokens: asymmetric only, so that nobody
#: holding the client secret can mint a token (RFC 8725 section 3.1).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
#: Clock skew tolerated between the provider and the registrar, in seconds.
LEEWAY_S = 60
MAX_TOKEN_CHARS = 16_384
#: Limits of the manifest's provider fields (an issuer is a short URL; client ids of
#: common providers are well under 100 characters).
ISSUER_MAX = 255
CLIENT_ID_MAX = 255
#: Hosts for which an ``http`` issuer is accepted: a provider on the same machine (tests,
#: a rehearsal). Everywhere else OpenID Connect Discovery requires ``https``.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LoginProvider(Wire):
    """The city's OpenID Connect provider as a ``city-login`` manifest names it: the
    issuer (whose ``/.well-known/openid-configuration`` and keys the registrar uses, and
    which every ID token's ``iss`` must equal) and the client id the election's sign-ins
    use (every token's ``aud``). No secret: the client secret stays in registrar.toml."""

    issuer: Annotated[str, MaxLen(ISSUER_MAX)]
    client_id: Annotated[str, MaxLen(CLIENT_ID_MAX)]


def _bad_provider(field: str, why: str) -> ManifestError:
    return ManifestError(ErrorCode.MANIFEST_BAD_PROVIDER, f"{field}: {why}")


#: ``scheme://authority[path]``: split by hand because ``urllib`` is off limits in the pure
#: core (.importlinter); web/src/manifest.js splits it the same way.
_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)")


def _host_port(authority: str) -> tuple[str, str] | None:
    """``(host, port)`` of an authority without user info (``[v6]`` unbracketed), or None."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        host, rest = authority[1:close], authority[close + 1:]
        if rest and not rest.startswith(":"):
            return None
        return host, rest[1:]
    host, _, port = authority.partition(":")
    return (host, port) if ":" not in port else None


def check_issuer(issuer: str, field: str = "login_provider.issuer") -> None:
    """An issuer identifier as OpenID Connect Discovery 2 wants it: an ``https`` URL
    (``http`` only on loopback) with a host, no user info, query or fragment, and no
    trailing slash (``iss`` is compared as a string, so one spelling only)."""
    if not issuer or len(issuer) > ISSUER_MAX:
        raise _bad_provider(field, f"must be 1 to {ISSUER_MAX} characters")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in issuer):
        raise _bad_provider(field, "contains spaces or control characters")
    if "?" in issuer or "#" in issuer or "@" in issuer.partition("://")[2].split("/")[0]:
        raise _bad_provider(field, "must be scheme://host[:port][/path] without user, query or fragment")
    m = _URL_RE.fullmatch(issuer)
    hp = _host_port(m.group(2)) if m else None
    if m is None or hp is None or (hp[1] and not (hp[1].isascii() and hp[1].isdigit()
                                                   and int(hp[1]) <= 65535)):
        raise _bad_provider(field, f"{issuer[:80]!r} is not a URL")
    scheme, host = m.group(1).lower(), hp[0].lower()
    if scheme != "https" and not (scheme == "http" and host in LOOPBACK_HOSTS):
        raise _bad_provider(field, f"{issuer[:80]!r} is not an https URL")
    if not host:
        raise _bad_provider(field, "must be scheme://host[:port][/path] without user, query or fragment")
    if issuer.endswith("/"):
        raise _bad_provider(field, "must not end with '/' (tokens name the issuer without it)")


def check_login_provider(p: LoginProvider | None, field: str = "login_provider") -> None:
    """Raise ``ManifestError`` (MANIFEST_BAD_PROVIDER) unless ``p`` is a usable provider."""
    if p is None:
        raise _bad_provider(field, "a city-login election must name its identity provider")
    check_issuer(p.issuer, f"{field}.issuer")
    cid = p.client_id
    if not cid.strip() or len(cid) > CLIENT_ID_MAX:
        raise _bad_provider(f"{field}.client_id", f"must be 1 to {CLIENT_ID_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in cid) or cid != cid.strip():
        raise _bad_provider(f"{field}.client_id",
                            "contains control characters or leading/trailing spaces")


def _err(code: ErrorCode, message: str) -> EligibilityError:
    return EligibilityError(code, message)


@dataclass(frozen=True)
class VerifiedLogin:
    """An ID token that passed every check: only its subject is kept, to make the tag."""

    issuer: str
    subject: str


def login_tag_key(registrar_seed: bytes) -> bytes:
    """The registrar's login tag key, derived from its Ed25519 seed (no extra secret file)."""
    return hash_bytes("registrar/login-tag-key", registrar_seed)


def login_tag(tag_key: bytes, election_id: bytes, issuer: str, subject: str) -> bytes:
    """BLAKE2b-256 keyed with the registrar's secret over (election, issuer, sub)."""
    if len(tag_key) != 32 or len(election_id) != 32:
        raise ValueError("the tag key and the election id must be 32 bytes")
    h = hashlib.blake2b(key=tag_key, digest_size=32, person=TAG_PERSON)
    for part in (election_id, issuer.encode(), subject.encode()):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 ``S256``: base64url(SHA-256(verifier)) without padding."""
    if not 43 <= len(verifier) <= 128:
        raise ValueError("a PKCE verifier has 43 to 128 characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_set(jwks: dict[str, Any]) -> KeySet:
    """The provider's published keys (its ``jwks_uri`` document)."""
    try:
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_INVALID,
                   f"the provider's key set cannot be used ({type(e).__name__})") from None


def token_key_id(id_token: str) -> str | None:
    """The ``kid`` a token's header names (to refetch the JWKS when a provider rotates keys)."""
    try:
        header = base64.urlsafe_b64decode(id_token.split(".")[0] + "==")
        kid = json.loads(header).get("kid")
    except (ValueError, AttributeError, IndexError):
        return None
    return kid if isinstance(kid, str) else None


def verify_id_token(id_token: str, keys: KeySet, issuer: str, client_id: str, nonce: str,
                    now_s: int) -> VerifiedLogin:
    """Check an ID token completely (see the module docstring for the order)."""
    if not isinstance(id_token, str) or not id_token or len(id_token) > MAX_TOKEN_CHARS:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_INVALID, "the ID token is missing or too long")
    # 1. signature by the provider's key set, asymmetric algorithms only
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError, TypeError) as e:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_INVALID,
                   "the ID token is not signed by the identity provider "
                   f"({type(e).__name__})") from None
    claims = token.claims
    # 2. issuer
    if claims.get("iss") != issuer:
        raise _err(ErrorCode.ELIGIBILITY_WRONG_ISSUER,
                   f"the ID token was issued by {str(claims.get('iss'))[:200]!r}, not {issuer!r}")
    # 3. audience (OpenID Connect Core 3.1.3.7 items 3-5)
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in auds or (len(auds) > 1 and claims.get("azp") != client_id):
        raise _err(ErrorCode.ELIGIBILITY_WRONG_AUDIENCE,
                   "the ID token is not meant for this registrar's client id")
    # 4. times (joserfc's registry, with the time passed in)
    registry = jwt.JWTClaimsRegistry(now=now_s, leeway=LEEWAY_S, exp={"essential": True},
                                     iat={"essential": True})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_EXPIRED, "the ID token has expired") from None
    except JoseError as e:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_INVALID,
                   f"the ID token's claims are not acceptable ({e})") from None
    # 5. nonce binds the token to this sign-in
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise _err(ErrorCode.ELIGIBILITY_NONCE_MISMATCH,
                   "the ID token belongs to another sign-in (its nonce does not match)")
    # 6. subject
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise _err(ErrorCode.ELIGIBILITY_TOKEN_INVALID, "the ID token has no usable subject")
    return VerifiedLogin(issuer, sub)


class CityLogin:
    """On chain the same as ``registered-key`` (key + unique keyed tag, re-voting by manifest)."""

    name = "city-login"
    registration: type[Wire] = RegisterKeys

    def plan(self, body: Wire) -> RegistrationPlan:
        return RegisteredKey().plan(body)
