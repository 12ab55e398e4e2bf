"""The registrar service: voters register from a phone or a city counter, over HTTP(S).

``ballotchain registrar serve`` runs it beside the nodes. It holds the registrar key
and nothing about ballots. It checks each request with the election's eligibility
module and registers the voter keys on chain in ``RegisterKeys`` batches, answering
every request with its registration transaction's hash (its tracking code), so the
voter's page can check the registration on chain itself.

Routes (JSON; errors are ``{"error": CODE, "message": ...}`` with a 4xx status, as on
a node, and change nothing):

* ``GET /v1/registrar``: chain id, elections served, methods, the identity provider the
  served city-login manifests name;
* ``POST /v1/register/card``: an ID-card request (``ballotchain voter card-sign``
  output) for a ``registered-key`` election;
* ``POST /v1/login/start`` ``{election_id, voter_public, return_to?}``: begins a
  ``city-login`` sign-in; answers the provider's authorization URL (code flow with
  PKCE S256, a fresh ``state`` and ``nonce``, kept here for ``login_ttl_s``) and the
  same request's parameters without the client id, which the page takes from the manifest;
* ``GET /v1/login/callback?code&state[&iss]``: the provider sends the voter back
  here; the service takes the sign-in by its ``state`` (once), exchanges the code
  with the PKCE verifier and verifies the ID token (``ballot_tx.eligibility.city_login``).
  It then hands the browser a fresh one-time ``finish`` token: with a ``return_to`` in
  the fragment (``#login=TOKEN``, or ``#registration_error=CODE``), without one as JSON;
* ``POST /v1/login/finish`` ``{token, signature}``: the signature is the voter key's
  over the election and the token (kind ``registrar-login``, this chain), proving that
  the browser which came back from the sign-in holds the key being registered. Then the
  key is registered under the login's keyed tag. Without this step, an attacker could
  start a sign-in with their own key and get a victim to complete it (login CSRF): the
  victim's identity would register the attacker's key. The token reaches only the
  browser that came back from the provider, and only the key's holder can sign;
* ``GET /metrics``: Prometheus counters.

The identity provider is the election's: its manifest's ``login_provider`` (issuer, client
id). Every ID token is checked against the manifest of the election its sign-in is for;
registrar.toml holds only the client secret and the redirect URI. One registrar is one
client at one provider (one secret): at start it reads the manifests of the elections it
serves and refuses to start (``REGISTRAR_PROVIDER_MISMATCH``) if two of them name different
providers or client ids, or one differs from the ``issuer``/``client_id`` pinned in its
config. An election not yet on chain at start is checked when it is first used, and refused
with the same code.

Rate limit: ``/v1/login/start``, ``/v1/login/callback``, ``/v1/login/finish`` and
``/v1/register/card`` (each creates state or costs a provider round trip, a signature or a
certificate check) take a token from the client's bucket first (``[limits]``); an empty
bucket is ``API_RATE_LIMITED`` with 429 and ``Retry-After``, before any work. The client is
the connection's address (an IPv6 address's /64, which one subscriber usually holds whole),
or, when the connection comes from a ``trusted_proxies`` address, the nearest
``X-Forwarded-For`` hop that is not a trusted proxy. The table of buckets is bounded
(``max_clients``, least recently seen forgotten), so a flood of addresses cannot grow it.

Batching: requests wait at most ``batch_wait_ms`` and are sent as one transaction
of up to ``batch_max`` entries, one transaction in flight at a time. The chain
refuses a whole batch if one entry is a duplicate, so a refused batch is retried
entry by entry and each request gets its own answer. Tags and keys already sent by
this process are refused at once (no transaction needed); after a restart the
chain's own uniqueness rule gives the same answer.

Privacy: log lines carry election ids, counts and heights only; never a login
subject, an ID token or a card serial.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import signal
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from ballot_tx.codec import decode, encode
from ballot_tx.eligibility import check_voter_key
from ballot_tx.eligibility import city_login as cl
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.eligibility.idcard import (
    CardAuthority,
    CardRegistration,
    card_tag_key,
    verify_registration,
)
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from ballot_tx.keys import KeyPair, verify
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.tx import sign_tx
from node import logs
from node.mempool import TokenBuckets
from node.registrar_config import LimitsConfig, RegistrarConfig, origin_of
from node.server import STATUS, error_response

log = logs.get("registrar")

TX_LIFETIME_MS = 10 * 60 * 1000
#: Refusals of a whole batch that one entry can cause: retry the batch entry by entry.
SPLIT_ON = (ErrorCode.TX_CARD_TAG_USED, ErrorCode.TX_VOTER_REGISTERED)
MAX_PENDING_LOGINS = 100_000
JWKS_REFRESH_S = 60.0
#: Signature kind of the proof that the browser finishing a sign-in holds the voter key.
FINISH_KIND = "registrar-login"
HTTP_STATUS = {
    **STATUS,
    ErrorCode.REGISTRAR_NOT_SERVED: 404,
    ErrorCode.REGISTRAR_PROVIDER_ERROR: 502,
    ErrorCode.REGISTRAR_NOT_KEY_HOLDER: 403,
    ErrorCode.REGISTRAR_PROVIDER_MISMATCH: 503,
    ErrorCode.TX_CARD_TAG_USED: 409,
    ErrorCode.TX_VOTER_REGISTERED: 409,
}


class RegistrarError(BallotchainError):
    """A registration request the service refuses (nothing was sent to the chain)."""


# --- the chain, through one node's client API --------------------------------------


class ChainLink:
    """Reads elections and posts signed registrations through a node's JSON API."""

    def __init__(self, url: str, keys: KeyPair, session: aiohttp.ClientSession,
                 commit_wait_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self.session = session
        self.commit_wait_s = commit_wait_s
        self._chain_id: bytes | None = None
        self._manifests: dict[bytes, Manifest] = {}

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self.session.request(
                method, self.url + path, json=body,
                timeout=aiohttp.ClientTimeout(total=self.commit_wait_s + 10),
            ) as resp:
                try:
                    doc = await resp.json(content_type=None)
                except ValueError:
                    doc = None
                if resp.status >= 400:
                    code = doc.get("error") if isinstance(doc, dict) else None
                    try:
                        err = ErrorCode(str(code))
                    except ValueError:
                        err = ErrorCode.NODE_UNAVAILABLE
                    msg = doc.get("message") if isinstance(doc, dict) else None
                    raise TxError(err, str(msg or f"the node answered HTTP {resp.status}"))
                return doc
        except (aiohttp.ClientError, TimeoutError) as e:
            raise RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                 f"the registrar cannot reach its node ({type(e).__name__})") from None

    async def chain_id(self) -> bytes:
        if self._chain_id is None:
            doc = await self._json("GET", "/v1/status")
            self._chain_id = bytes.fromhex(str(doc["chain_id"]))
        return self._chain_id

    async def manifest(self, eid: bytes) -> Manifest:
        m = self._manifests.get(eid)
        if m is None:
            try:
                doc = await self._json("GET", f"/v1/elections/{eid.hex()}")
            except TxError as e:
                if e.code == ErrorCode.API_NOT_FOUND:
                    raise RegistrarError(ErrorCode.TX_UNKNOWN_ELECTION,
                                         f"no election {eid.hex()} on the chain") from None
                raise
            m = decode(Manifest, bytes.fromhex(doc["manifest_bytes"]))
            if election_id(m) != eid:
                raise RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                     "the node served a manifest that does not hash to the election id")
            self._manifests[eid] = m
        return m

    async def register(self, body: RegisterKeys) -> dict[str, Any]:
        tx = sign_tx(self.keys, await self.chain_id(), body,
                     int(time.time() * 1000) + TX_LIFETIME_MS)
        doc = await self._json("POST", "/v1/txs?wait=commit", {"tx": encode(tx).hex()})
        return {"tracking_code": doc["tracking_code"], "height": doc.get("height")}


# --- batching ----------------------------------------------------------------------


@dataclass
class _Item:
    eid: bytes
    entry: KeyEntry
    fut: asyncio.Future[dict[str, Any]]


@dataclass
class Batcher:
    """Collects registrations into ``RegisterKeys`` transactions, one in flight at a time."""

    post: Callable[[RegisterKeys], Awaitable[dict[str, Any]]]
    max_batch: int = 500
    wait_s: float = 0.2
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    tags: dict[bytes, set[bytes]] = field(default_factory=dict)
    voters: dict[bytes, set[bytes]] = field(default_factory=dict)
    transactions: int = 0

    async def register(self, eid: bytes, entry: KeyEntry) -> dict[str, Any]:
        tags = self.tags.setdefault(eid, set())
        voters = self.voters.setdefault(eid, set())
        if entry.card_tag in tags:
            raise TxError(ErrorCode.TX_CARD_TAG_USED,
                          "this ID card or login already registered a voter in this election")
        if entry.voter_key in voters:
            raise TxError(ErrorCode.TX_VOTER_REGISTERED,
                          f"voter key {entry.voter_key.hex()[:16]} is already registered")
        tags.add(entry.card_tag)
        voters.add(entry.voter_key)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Item(eid, entry, fut))
        try:
            return await fut
        except BaseException:
            tags.discard(entry.card_tag)
            voters.discard(entry.voter_key)
            raise

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.wait_s
            while len(items) < self.max_batch:
                left = deadline - loop.time()
                if left <= 0 and self.queue.empty():
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), max(left, 0)))
                except TimeoutError:
                    break
            groups: dict[bytes, list[_Item]] = {}
            for it in items:
                groups.setdefault(it.eid, []).append(it)
            for group in groups.values():
                await self._send(group)

    async def _send(self, items: list[_Item]) -> None:
        items = [i for i in items if not i.fut.done()]
        if not items:
            return
        try:
            self.transactions += 1
            doc = await self.post(RegisterKeys(items[0].eid, tuple(i.entry for i in items)))
        except BallotchainError as e:
            if len(items) > 1 and e.code in SPLIT_ON:
                for it in items:
                    await self._send([it])
                return
            for it in items:
                if not it.fut.done():
                    it.fut.set_exception(type(e)(e.code, e.message))
            return
        except Exception as e:  # noqa: BLE001 - a bug must not leave requests hanging
            log.exception("registration batch failed", election=items[0].eid, size=len(items))
            for it in items:
                if not it.fut.done():
                    it.fut.set_exception(RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                                        f"registration failed ({type(e).__name__})"))
            return
        log.info("registered", election=items[0].eid, voters=len(items), height=doc.get("height"))
        for it in items:
            if not it.fut.done():
                it.fut.set_result(doc)


# --- the identity provider -----------------------------------------------------------


@dataclass
class _Login:
    eid: bytes
    voter_public: bytes
    nonce: str
    verifier: str
    return_to: str | None
    expires: float


@dataclass
class _Verified:
    """A sign-in whose ID token passed: waits for the key holder's signature."""

    eid: bytes
    voter_public: bytes
    tag: bytes
    expires: float


def finish_message(eid: bytes, token: str) -> bytes:
    """What the voter key signs (kind ``registrar-login``) to finish a sign-in."""
    return eid + token.encode()


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


# --- the service ------------------------------------------------------------------------


class ClientLimiter:
    """The per-client token buckets of the unauthenticated routes (see the module docstring)."""

    def __init__(self, cfg: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.buckets = TokenBuckets(cfg.rate_per_minute / 60.0, clock, burst=float(cfg.burst),
                                    max_clients=cfg.max_clients)
        self.trusted: tuple[IPv4Network | IPv6Network, ...] = cfg.trusted_proxies
        self.retry_after_s = max(1, int(60 / cfg.rate_per_minute + 0.999))

    def _is_trusted(self, addr: str) -> bool:
        try:
            ip = ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    @staticmethod
    def _key(addr: str) -> str:
        """The bucket of an address: itself, or for IPv6 its /64."""
        try:
            ip = ip_address(addr.strip())
        except ValueError:
            return addr[:64]
        if isinstance(ip, IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(IPv6Network((ip, 64), strict=False))
        return str(ip)

    def client(self, remote: str | None, forwarded_for: str | None) -> str:
        """Who sent a request: ``remote``, or the nearest untrusted X-Forwarded-For hop
        when ``remote`` is a trusted proxy (hops left of it were written by the client)."""
        addr = remote or "unknown"
        if forwarded_for is not None and self._is_trusted(addr):
            hops = [h for h in forwarded_for.split(",")[-32:] if h.strip()]
            while hops and self._is_trusted(hops[-1]):
                hops.pop()
            if hops:
                try:
                    addr = str(ip_address(hops[-1].strip()))
                except ValueError:
                    pass  # the proxy wrote something that is not an address: count the proxy
        return self._key(addr)

    def allow(self, client: str) -> bool:
        return self.buckets.allow(client)


class Registrar:
    def __init__(self, cfg: RegistrarConfig, keys: KeyPair, chain: ChainLink,
                 make_provider: Callable[[str, str], Provider] | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.keys = keys
        self.chain = chain
        self.make_provider = make_provider
        #: the one client this registrar is (bound by the first city-login manifest seen)
        self.provider: Provider | None = None
        self.bound: tuple[bytes, LoginProvider] | None = None
        self.limiter = ClientLimiter(cfg.limits)
        self.clock = clock
        self.batcher = Batcher(chain.register, cfg.batch_max, cfg.batch_wait_ms / 1000)
        self.logins: dict[str, _Login] = {}
        self.finishing: dict[str, _Verified] = {}
        self._card_tag_key = card_tag_key(keys.ed25519_seed)
        self._login_tag_key = cl.login_tag_key(keys.ed25519_seed)
        self._authority: tuple[tuple[float, float], CardAuthority] | None = None
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("ballotchain_registrar_requests",
                                "Registration requests answered, by method and code",
                                ["method", "code"], registry=r)
        self.http_errors = Counter("ballotchain_registrar_http_errors",
                                   "Errors answered, by code", ["code"], registry=r)
        self.rate_limited = Counter("ballotchain_registrar_rate_limited",
                                    "Requests refused by the per-client rate limit", registry=r)
        Gauge("ballotchain_registrar_rate_clients", "Clients in the rate limiter's table",
              registry=r).set_function(lambda: len(self.limiter.buckets))

    # --- the identity provider: the manifest's ---

    def _bind(self, eid: bytes, lp: LoginProvider) -> None:
        """Check a city-login manifest's provider against the config's pins and the provider
        this registrar already serves; raise REGISTRAR_PROVIDER_MISMATCH if it differs."""
        c = self.cfg.city_login
        if c is not None and ((c.issuer is not None and c.issuer != lp.issuer)
                              or (c.client_id is not None and c.client_id != lp.client_id)):
            raise RegistrarError(
                ErrorCode.REGISTRAR_PROVIDER_MISMATCH,
                f"election {eid.hex()[:16]}... names the identity provider {lp.issuer!r} "
                f"(client {lp.client_id!r}); registrar.toml pins {c.issuer or lp.issuer!r} "
                f"(client {c.client_id or lp.client_id!r})")
        if self.bound is not None and self.bound[1] != lp:
            other, was = self.bound
            raise RegistrarError(
                ErrorCode.REGISTRAR_PROVIDER_MISMATCH,
                f"election {eid.hex()[:16]}... names the identity provider {lp.issuer!r} "
                f"(client {lp.client_id!r}), election {other.hex()[:16]}... names {was.issuer!r} "
                f"(client {was.client_id!r}): one registrar is one client at one provider")
        if self.bound is None:
            self.bound = (eid, lp)

    async def check_elections(self) -> None:
        """At start: every served city-login election on chain names one provider, the one
        the config pins if it pins one. Elections not on chain yet are checked on first use."""
        for eid in self.cfg.elections:
            try:
                m = await self.chain.manifest(eid)
            except RegistrarError as e:
                log.warning("election not checked at start", election=eid, code=e.code)
                continue
            if m.eligibility == "city-login" and m.login_provider is not None:
                self._bind(eid, m.login_provider)

    async def login_provider(self, eid: bytes) -> tuple[LoginProvider, Provider]:
        """The provider election ``eid``'s manifest names, and the client talking to it."""
        m = await self.chain.manifest(eid)
        lp = m.login_provider
        if lp is None or self.make_provider is None:
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_SERVED,
                                 "this registrar does not offer the city login for this election")
        self._bind(eid, lp)
        if self.provider is None:
            self.provider = self.make_provider(lp.issuer, lp.client_id)
        return lp, self.provider

    # --- shared checks ---

    async def _election(self, eid_hex: Any, method: str) -> bytes:
        try:
            eid = bytes.fromhex(eid_hex) if isinstance(eid_hex, str) else b""
        except ValueError:
            eid = b""
        if len(eid) != 32:
            raise RegistrarError(ErrorCode.API_BAD_REQUEST, "election_id must be 64 hex characters")
        if eid not in self.cfg.elections:
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_SERVED,
                                 f"this registrar does not register voters for election {eid.hex()[:16]}...")
        m = await self.chain.manifest(eid)
        if m.eligibility != method:
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_SERVED,
                                 f"this election uses {m.eligibility!r}, not {method!r}")
        return eid

    def _authority_now(self) -> CardAuthority:
        """The card authority and its CRL, re-read whenever either file changes."""
        assert self.cfg.idcard is not None
        ca, crl = self.cfg.idcard.ca_cert, self.cfg.idcard.crl
        stamp = (ca.stat().st_mtime, crl.stat().st_mtime)
        if self._authority is None or self._authority[0] != stamp:
            self._authority = (stamp, CardAuthority.from_pem(ca.read_bytes(), crl.read_bytes()))
        return self._authority[1]

    def _count(self, method: str, code: str) -> None:
        self.requests.labels(method=method, code=code).inc()

    # --- ID cards ---

    async def register_card(self, text: str) -> dict[str, Any]:
        if self.cfg.idcard is None:
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_SERVED,
                                 "this registrar does not take ID-card requests")
        req = CardRegistration.from_json(text)
        eid = await self._election(req.election_id.hex(), "registered-key")
        v = verify_registration(req, self._authority_now(), datetime.now(UTC), eid,
                                self._card_tag_key)
        check_voter_key(v.voter_public, "voter_public")
        doc = await self.batcher.register(eid, KeyEntry(v.voter_public, v.tag))
        return {"status": "committed", "election_id": eid.hex(),
                "voter_public": v.voter_public.hex(), **doc}

    # --- city login ---

    def _purge_logins(self) -> None:
        now = self.clock()
        for state in [s for s, lg in self.logins.items() if lg.expires < now]:
            del self.logins[state]
        for token in [t for t, v in self.finishing.items() if v.expires < now]:
            del self.finishing[token]

    def _return_to(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 2000:
            raise RegistrarError(ErrorCode.REGISTRAR_BAD_RETURN, "return_to must be a page address")
        origin = origin_of(value)
        if origin is None or origin not in self.cfg.page_origins or urlsplit(value).fragment:
            raise RegistrarError(ErrorCode.REGISTRAR_BAD_RETURN,
                                 "return_to is not a voting page this registrar serves")
        return value

    async def login_start(self, doc: Any) -> dict[str, Any]:
        if self.make_provider is None or self.cfg.city_login is None:
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_SERVED,
                                 "this registrar does not offer the city login")
        if not isinstance(doc, dict) or not {"election_id", "voter_public"} <= set(doc) \
                or not set(doc) <= {"election_id", "voter_public", "return_to"}:
            raise RegistrarError(ErrorCode.API_BAD_REQUEST,
                                 'send {"election_id": hex, "voter_public": hex, "return_to"?: url}')
        eid = await self._election(doc["election_id"], "city-login")
        try:
            voter = bytes.fromhex(doc["voter_public"]) if isinstance(doc["voter_public"], str) else b""
        except ValueError:
            voter = b""
        if len(voter) != 32:
            raise RegistrarError(ErrorCode.API_BAD_REQUEST, "voter_public must be 64 hex characters")
        check_voter_key(voter, "voter_public")
        return_to = self._return_to(doc.get("return_to"))
        lp, provider = await self.login_provider(eid)
        self._purge_logins()
        if len(self.logins) + len(self.finishing) >= MAX_PENDING_LOGINS:
            raise RegistrarError(ErrorCode.API_RATE_LIMITED, "too many sign-ins in progress; retry later")
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        scope = self.cfg.city_login.scope
        url = await provider.authorization_url(state, nonce, verifier, scope)
        self.logins[state] = _Login(eid, voter, nonce, verifier, return_to,
                                    self.clock() + self.cfg.login_ttl_s)
        return {"authorization_url": url, "state": state, "issuer": lp.issuer,
                "request": provider.request_params(state, nonce, verifier, scope)}

    def take_login(self, state: Any) -> _Login:
        """The pending sign-in for ``state``, removed: a state works exactly once."""
        lg = self.logins.pop(state, None) if isinstance(state, str) else None
        if lg is None or lg.expires < self.clock():
            raise RegistrarError(ErrorCode.REGISTRAR_LOGIN_UNKNOWN,
                                 "this sign-in is unknown, expired or already finished; start again")
        return lg

    async def login_callback(self, lg: _Login, query: dict[str, str]) -> dict[str, Any]:
        lp, provider = await self.login_provider(lg.eid)
        if "error" in query:
            raise RegistrarError(ErrorCode.REGISTRAR_PROVIDER_ERROR,
                                 f"the identity provider refused the sign-in ({query['error'][:80]})")
        if "iss" in query and query["iss"] != lp.issuer:
            # RFC 9207: the answer names the provider that sent it (mix-up defence)
            raise RegistrarError(ErrorCode.ELIGIBILITY_WRONG_ISSUER,
                                 "the sign-in answer comes from another identity provider")
        code = query.get("code")
        if not code or len(code) > 2000:
            raise RegistrarError(ErrorCode.API_BAD_REQUEST, "the sign-in answer has no code")
        id_token = await provider.exchange(code, lg.verifier)
        return await self.verify_login(lg, id_token)

    async def verify_login(self, lg: _Login, id_token: str) -> dict[str, Any]:
        """Verify the ID token of a sign-in against the provider and client id its election's
        manifest names; hand out the one-time token that finishes it."""
        lp, provider = await self.login_provider(lg.eid)
        keys = await provider.keys(cl.token_key_id(id_token))
        v = cl.verify_id_token(id_token, keys, lp.issuer, lp.client_id, lg.nonce, int(self.clock()))
        tag = cl.login_tag(self._login_tag_key, lg.eid, v.issuer, v.subject)
        if tag in self.batcher.tags.get(lg.eid, set()):  # known here: say so now
            raise TxError(ErrorCode.TX_CARD_TAG_USED,
                          "this login already registered a voter in this election")
        token = secrets.token_urlsafe(32)
        self.finishing[token] = _Verified(lg.eid, lg.voter_public, tag,
                                          self.clock() + self.cfg.login_ttl_s)
        return {"finish_token": token, "election_id": lg.eid.hex(),
                "voter_public": lg.voter_public.hex()}

    async def finish_login(self, doc: Any) -> dict[str, Any]:
        """Register a verified sign-in's key once its holder signed the finish token."""
        if not isinstance(doc, dict) or set(doc) != {"token", "signature"} \
                or not all(isinstance(doc[k], str) for k in doc):
            raise RegistrarError(ErrorCode.API_BAD_REQUEST,
                                 'send {"token": the finish token, "signature": hex}')
        token = doc["token"]
        v = self.finishing.get(token)
        if v is None or v.expires < self.clock():
            raise RegistrarError(ErrorCode.REGISTRAR_LOGIN_UNKNOWN,
                                 "this sign-in is unknown, expired or already finished; start again")
        try:
            sig = bytes.fromhex(doc["signature"])
        except ValueError:
            sig = b""
        if not verify(v.voter_public, FINISH_KIND, await self.chain.chain_id(),
                      finish_message(v.eid, token), sig):
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_KEY_HOLDER,
                                 "the sign-in must be finished with the key being registered")
        del self.finishing[token]
        out = await self.batcher.register(v.eid, KeyEntry(v.voter_public, v.tag))
        return {"status": "committed", "election_id": v.eid.hex(),
                "voter_public": v.voter_public.hex(), **out}

    def info(self) -> dict[str, Any]:
        methods = (["registered-key"] if self.cfg.idcard else []) + \
                  (["city-login"] if self.cfg.city_login else [])
        out: dict[str, Any] = {"elections": [e.hex() for e in self.cfg.elections],
                               "methods": methods,
                               "registrar_public": self.keys.ed25519_public.hex()}
        if self.cfg.city_login is not None and self.bound is not None:
            out["login_provider"] = {"issuer": self.bound[1].issuer,
                                     "client_id": self.bound[1].client_id}
        return out


# --- HTTP -------------------------------------------------------------------------------

REGISTRAR_KEY = web.AppKey("registrar", Registrar)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(request: web.Request, code: str, message: str) -> web.Response:
    request.app[REGISTRAR_KEY].http_errors.labels(code=code).inc()
    return error_response(code, message, HTTP_STATUS.get(code, 400))


#: Routes that create state or cost work for an unauthenticated client: rate-limited.
LIMITED = frozenset({("POST", "/v1/login/start"), ("GET", "/v1/login/callback"),
                     ("POST", "/v1/login/finish"), ("POST", "/v1/register/card")})


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure is a coded 4xx JSON answer (502 when the provider fails); never a 500.
    The limited routes spend a token of the client's bucket before anything else."""
    try:
        reg = request.app[REGISTRAR_KEY]
        if (request.method, request.path) in LIMITED:
            client = reg.limiter.client(request.remote, request.headers.get("X-Forwarded-For"))
            if not reg.limiter.allow(client):
                reg.rate_limited.inc()
                refusal = _error(request, ErrorCode.API_RATE_LIMITED,
                                 "too many requests from this address; retry later")
                refusal.headers["Retry-After"] = str(reg.limiter.retry_after_s)
                return _cors(request, refusal)
        resp = await handler(request)
    except BallotchainError as e:
        resp = _error(request, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = {404: ErrorCode.API_NOT_FOUND, 405: ErrorCode.API_METHOD_NOT_ALLOWED,
                413: ErrorCode.API_TOO_LARGE}.get(e.status, ErrorCode.API_BAD_REQUEST)
        resp = _error(request, code, e.reason or "bad request")
    except Exception:
        log.exception("unexpected error on request", method=request.method, path=request.path)
        resp = _error(request, ErrorCode.API_BAD_REQUEST, "the request could not be processed")
    return _cors(request, resp)


def _cors(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    reg = request.app[REGISTRAR_KEY]
    if origin and origin.lower() in reg.cfg.page_origins and request.path != "/v1/login/callback":
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
    return resp


async def _read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise RegistrarError(ErrorCode.API_UNSUPPORTED_MEDIA, "send application/json")
    try:
        return json.loads(await request.text())
    except ValueError:
        raise RegistrarError(ErrorCode.API_BAD_REQUEST, "the body is not JSON") from None


async def _info(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    return web.json_response({"chain_id": (await reg.chain.chain_id()).hex(), **reg.info()})


async def _card(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    try:
        if request.content_type != "application/json":
            raise RegistrarError(ErrorCode.API_UNSUPPORTED_MEDIA, "send the request as application/json")
        doc = await reg.register_card(await request.text())
    except BallotchainError as e:
        reg._count("registered-key", e.code)
        raise
    reg._count("registered-key", "OK")
    return web.json_response(doc)


async def _login_start(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    return web.json_response(await reg.login_start(await _read_json(request)))


async def _login_callback(request: web.Request) -> web.StreamResponse:
    reg = request.app[REGISTRAR_KEY]
    query = {k: v for k, v in request.query.items()}
    lg = reg.take_login(query.get("state"))
    try:
        doc = await reg.login_callback(lg, query)
    except BallotchainError as e:
        reg._count("city-login", e.code)
        if lg.return_to is None:
            raise
        log.info("login refused", election=lg.eid, code=e.code)
        raise web.HTTPSeeOther(f"{lg.return_to}#" + urlencode({"registration_error": e.code})) from None
    if lg.return_to is None:
        return web.json_response(doc)
    raise web.HTTPSeeOther(f"{lg.return_to}#" + urlencode({"login": doc["finish_token"]}))


async def _login_finish(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    try:
        doc = await reg.finish_login(await _read_json(request))
    except BallotchainError as e:
        reg._count("city-login", e.code)
        raise
    reg._count("city-login", "OK")
    return web.json_response(doc)


async def _preflight(request: web.Request) -> web.Response:
    reg = request.app[REGISTRAR_KEY]
    origin = request.headers.get("Origin", "")
    if origin.lower() not in reg.cfg.page_origins:
        raise RegistrarError(ErrorCode.API_BAD_REQUEST, "this origin may not call the registrar")
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    })


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRAR_KEY].registry)
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def make_app(reg: Registrar) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=reg.cfg.max_request_bytes)
    app[REGISTRAR_KEY] = reg
    app.router.add_get("/v1/registrar", _info)
    app.router.add_post("/v1/register/card", _card)
    app.router.add_post("/v1/login/start", _login_start)
    app.router.add_get("/v1/login/callback", _login_callback)
    app.router.add_post("/v1/login/finish", _login_finish)
    app.router.add_route("OPTIONS", "/v1/{tail:.*}", _preflight)
    app.router.add_get("/metrics", _metrics)

    async def batcher(app: web.Application) -> Any:
        task = asyncio.create_task(reg.batcher.run())
        yield
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    app.cleanup_ctx.append(batcher)
    return app


def _ssl(cfg: RegistrarConfig) -> ssl.SSLContext | None:
    if cfg.tls_cert is None or cfg.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as e:
        raise RegistrarError(ErrorCode.CONFIG_TLS, f"cannot load the TLS certificate or key: {e}") from None
    return ctx


async def run_registrar(cfg: RegistrarConfig, keys: KeyPair, node_url: str) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly (requests in flight are answered)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession() as session:
        chain = ChainLink(node_url, keys, session)
        make_provider = None
        if cfg.city_login is not None:
            c = cfg.city_login

            def make_provider(issuer: str, client_id: str) -> Provider:
                return Provider(issuer, client_id, c.redirect_uri, c.client_secret, session)

        reg = Registrar(cfg, keys, chain, make_provider)
        await reg.check_elections()  # REGISTRAR_PROVIDER_MISMATCH: refuse to start
        runner = web.AppRunner(make_app(reg), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, cfg.listen_host, cfg.listen_port, ssl_context=_ssl(cfg))
        await site.start()
        scheme = "https" if cfg.tls_cert else "http"
        url = f"{scheme}://{cfg.listen_host}:{cfg.listen_port}"
        log.info("registrar listening", url=url, elections=len(cfg.elections))
        try:
            await stop.wait()
            log.info("stopping on signal")
        finally:
            await runner.cleanup()

