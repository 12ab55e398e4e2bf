"""The registrar service: the checks each registration passes before its key goes on chain.

An ID-card request is checked against the card authority and its CRL (re-read when either
file changes); a city login goes start -> provider -> callback (the ID token verified
against the manifest of the election the sign-in is for) -> finish (the key holder's
signature, see ``login.py``). Both end in the ``Batcher``.

The identity provider is the election's: its manifest's ``login_provider`` (issuer, client
id). registrar.toml holds only the client secret and the redirect URI. One registrar is
one client at one provider (one secret): at start it reads the manifests of the elections
it serves and refuses to start (``REGISTRAR_PROVIDER_MISMATCH``) if two of them name
different providers or client ids, or one differs from the ``issuer``/``client_id`` pinned
in its config. An election not yet on chain at start is checked when it is first used,
and refused with the same code.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
)

from ballot_tx.eligibility import check_voter_key
from ballot_tx.eligibility import city_login as cl
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.eligibility.idcard import (
    CardAuthority,
    CardRegistration,
    card_tag_key,
    verify_registration,
)
from ballot_tx.eligibility.registered_key import KeyEntry
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.keys import KeyPair, verify
from node import logs
from node.registrar.batcher import Batcher
from node.registrar.chain_link import ChainLink
from node.registrar.config import RegistrarConfig, origin_of
from node.registrar.errors import RegistrarError
from node.registrar.limiter import ClientLimiter
from node.registrar.login import FINISH_KIND, PendingLogin, VerifiedLogin, finish_message
from node.registrar.provider import Provider

log = logs.get("registrar")

MAX_PENDING_LOGINS = 100_000



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
        self.logins: dict[str, PendingLogin] = {}
        self.finishing: dict[str, VerifiedLogin] = {}
        self._card_tag_key = card_tag_key(keys.ed25519_seed)
        self._login_tag_key = cl.login_tag_key(keys.ed25519_seed)
        self._authority: tuple[tuple[float, float], CardAuthority] | None = None
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("ballotchain_registrar_requests",
                                "Registration requests answered, by method and code",
                                ["method", "code"], registry=registry)
        self.http_errors = Counter("ballotchain_registrar_http_errors",
                                   "Errors answered, by code", ["code"], registry=registry)
        self.rate_limited = Counter("ballotchain_registrar_rate_limited",
                                    "Requests refused by the per-client rate limit", registry=registry)
        Gauge("ballotchain_registrar_rate_clients", "Clients in the rate limiter's table",
              registry=registry).set_function(lambda: len(self.limiter.buckets))

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
        card = verify_registration(req, self._authority_now(), datetime.now(UTC), eid,
                                self._card_tag_key)
        check_voter_key(card.voter_public, "voter_public")
        doc = await self.batcher.register(eid, KeyEntry(card.voter_public, card.tag))
        return {"status": "committed", "election_id": eid.hex(),
                "voter_public": card.voter_public.hex(), **doc}

    # --- city login ---

    def _purge_logins(self) -> None:
        now = self.clock()
        for state in [s for s, login in self.logins.items() if login.expires < now]:
            del self.logins[state]
        for token in [t for t, verified in self.finishing.items() if verified.expires < now]:
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
        self.logins[state] = PendingLogin(eid, voter, nonce, verifier, return_to,
                                    self.clock() + self.cfg.login_ttl_s)
        return {"authorization_url": url, "state": state, "issuer": lp.issuer,
                "request": provider.request_params(state, nonce, verifier, scope)}

    def take_login(self, state: Any) -> PendingLogin:
        """The pending sign-in for ``state``, removed: a state works exactly once."""
        login = self.logins.pop(state, None) if isinstance(state, str) else None
        if login is None or login.expires < self.clock():
            raise RegistrarError(ErrorCode.REGISTRAR_LOGIN_UNKNOWN,
                                 "this sign-in is unknown, expired or already finished; start again")
        return login

    async def login_callback(self, login: PendingLogin, query: dict[str, str]) -> dict[str, Any]:
        lp, provider = await self.login_provider(login.eid)
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
        id_token = await provider.exchange(code, login.verifier)
        return await self.verify_login(login, id_token)

    async def verify_login(self, login: PendingLogin, id_token: str) -> dict[str, Any]:
        """Verify the ID token of a sign-in against the provider and client id its election's
        manifest names; hand out the one-time token that finishes it."""
        lp, provider = await self.login_provider(login.eid)
        keys = await provider.keys(cl.token_key_id(id_token))
        claims = cl.verify_id_token(id_token, keys, lp.issuer, lp.client_id, login.nonce, int(self.clock()))
        tag = cl.login_tag(self._login_tag_key, login.eid, claims.issuer, claims.subject)
        if tag in self.batcher.tags.get(login.eid, set()):  # known here: say so now
            raise TxError(ErrorCode.TX_CARD_TAG_USED,
                          "this login already registered a voter in this election")
        token = secrets.token_urlsafe(32)
        self.finishing[token] = VerifiedLogin(login.eid, login.voter_public, tag,
                                          self.clock() + self.cfg.login_ttl_s)
        return {"finish_token": token, "election_id": login.eid.hex(),
                "voter_public": login.voter_public.hex()}

    async def finish_login(self, doc: Any) -> dict[str, Any]:
        """Register a verified sign-in's key once its holder signed the finish token."""
        if not isinstance(doc, dict) or set(doc) != {"token", "signature"} \
                or not all(isinstance(doc[k], str) for k in doc):
            raise RegistrarError(ErrorCode.API_BAD_REQUEST,
                                 'send {"token": the finish token, "signature": hex}')
        token = doc["token"]
        verified = self.finishing.get(token)
        if verified is None or verified.expires < self.clock():
            raise RegistrarError(ErrorCode.REGISTRAR_LOGIN_UNKNOWN,
                                 "this sign-in is unknown, expired or already finished; start again")
        try:
            sig = bytes.fromhex(doc["signature"])
        except ValueError:
            sig = b""
        if not verify(verified.voter_public, FINISH_KIND, await self.chain.chain_id(),
                      finish_message(verified.eid, token), sig):
            raise RegistrarError(ErrorCode.REGISTRAR_NOT_KEY_HOLDER,
                                 "the sign-in must be finished with the key being registered")
        del self.finishing[token]
        out = await self.batcher.register(verified.eid, KeyEntry(verified.voter_public, verified.tag))
        return {"status": "committed", "election_id": verified.eid.hex(),
                "voter_public": verified.voter_public.hex(), **out}

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
