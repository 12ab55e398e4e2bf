"""The registrar service end to end: ID-card requests and the city login over HTTP,
registered on a real 4-validator chain in batches; every refusal has its code and
changes nothing on chain."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from ballot_tx.eligibility import city_login as cl
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from cli.card_authority import new_authority
from harness.webpoll import Poll
from node import localnet as ln
from node.registrar.app import HTTP_STATUS
from node.registrar.chain_link import ChainLink
from node.registrar.config import load_registrar_config
from node.registrar.login import FINISH_KIND, PendingLogin, finish_message
from node.registrar.provider import Provider
from node.registrar.service import Registrar
from tests.node.registrar.chainnet import CLIENT_ID, SECRET, RegistrarNet
from tests.node.registrar.oidc import client_session, provider, sign_in


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistrarNet]:
    n = RegistrarNet(tmp_path_factory.mktemp("registrar"))
    n.start()
    try:
        yield n
    finally:
        n.stop()


async def post(s: aiohttp.ClientSession, url: str, body: Any, raw: bool = False,
               ctype: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = body if raw else json.dumps(body)
    async with s.post(url, data=data, headers={"Content-Type": ctype}) as r:
        return r.status, await r.json()


async def card(s: aiohttp.ClientSession, net: RegistrarNet, text: str) -> tuple[int, dict[str, Any]]:
    return await post(s, f"{net.url}/v1/register/card", text, raw=True)


# --- ID cards ---------------------------------------------------------------------------


async def test_card_request_registers_on_chain_with_its_transaction(net: RegistrarNet) -> None:
    eid = net.card_poll.eid
    before = net.status(eid).registered
    voter = KeyPair.generate()
    async with aiohttp.ClientSession() as s:
        status, doc = await card(s, net, net.card_request(net.card(101), voter).to_json())
    assert status == 200, doc
    assert doc["status"] == "committed" and doc["voter_public"] == voter.ed25519_public.hex()
    tx = net.tx(doc["tracking_code"])
    assert tx["status"] == "committed" and tx["height"] == doc["height"]
    assert tx["tx"]["body"]["type"] == "RegisterKeys"
    assert voter.ed25519_public.hex() in json.dumps(tx)
    assert net.status(eid).registered == before + 1


async def test_bad_card_requests_get_a_code_and_change_nothing(net: RegistrarNet) -> None:
    eid = net.card_poll.eid
    c = net.card(102)
    async with aiohttp.ClientSession() as s:
        status, doc = await card(s, net, net.card_request(c).to_json())
        assert status == 200, doc
        before = net.status(eid).registered
        # the same card again, with a new key: one card registers once
        status, doc = await card(s, net, net.card_request(c).to_json())
        assert (status, doc["error"]) == (409, "TX_CARD_TAG_USED")
        # revoked card (the service re-reads the CRL file when it changes)
        revoked = net.card(103)
        net.revoked[103] = datetime.now(UTC)
        net.write_crl()
        status, doc = await card(s, net, net.card_request(revoked).to_json())
        assert (status, doc["error"]) == (400, "ELIGIBILITY_CARD_REVOKED")
        # a card from another authority
        other = RegistrarNet.__new__(RegistrarNet)
        other.ca = new_authority(datetime.now(UTC), name="Forged Authority")
        status, doc = await card(s, net, net.card_request(RegistrarNet.card(other, 104)).to_json())
        assert (status, doc["error"]) == (400, "ELIGIBILITY_WRONG_CA")
        # a signature over another voter key than the one in the request
        good = json.loads(net.card_request(net.card(105)).to_json())
        good["voter_public"] = KeyPair.generate().ed25519_public.hex()
        status, doc = await card(s, net, json.dumps(good))
        assert (status, doc["error"]) == (400, "ELIGIBILITY_BAD_SIGNATURE")
        # garbage, wrong media type, an election this registrar does not serve, wrong method
        status, doc = await card(s, net, "{not json")
        assert (status, doc["error"]) == (400, "ELIGIBILITY_MALFORMED")
        status, doc = await post(s, f"{net.url}/v1/register/card", "x", raw=True,
                                 ctype="text/plain")
        assert (status, doc["error"]) == (415, "API_UNSUPPORTED_MEDIA")
        status, doc = await card(s, net, net.card_request(net.card(106), eid=bytes(32)).to_json())
        assert (status, doc["error"]) == (404, "REGISTRAR_NOT_SERVED")
        status, doc = await card(
            s, net, net.card_request(net.card(107), eid=net.login_poll.eid).to_json())
        assert (status, doc["error"]) == (404, "REGISTRAR_NOT_SERVED")
        async with s.post(f"{net.url}/v1/register/card", data=b"x" * 200_000,
                          headers={"Content-Type": "application/json"}) as r:
            assert (r.status, (await r.json())["error"]) == (413, "API_TOO_LARGE")
    assert net.status(eid).registered == before


async def test_concurrent_requests_share_transactions(net: RegistrarNet) -> None:
    eid = net.card_poll.eid
    before = net.status(eid).registered
    reqs = [net.card_request(net.card(200 + i)).to_json() for i in range(8)]
    dup = net.card_request(net.card(200)).to_json()  # the first card again, another key
    async with aiohttp.ClientSession() as s:
        answers = await asyncio.gather(*(card(s, net, r) for r in [*reqs, dup]))
    ok = [d for st, d in answers if st == 200]
    refused = [d for st, d in answers if st != 200]
    assert len(ok) == 8 and [d["error"] for d in refused] == ["TX_CARD_TAG_USED"]
    codes = {d["tracking_code"] for d in ok}
    assert len(codes) < 8, "requests arriving together must share a transaction"
    assert net.status(eid).registered == before + 8


# --- city login -------------------------------------------------------------------------


async def start_login(s: aiohttp.ClientSession, net: RegistrarNet, voter: bytes,
                      **extra: Any) -> tuple[int, dict[str, Any]]:
    return await post(s, f"{net.url}/v1/login/start",
                      {"election_id": net.login_poll.eid.hex(), "voter_public": voter.hex(),
                       **extra})


async def finish(net: RegistrarNet, token: str, signer: KeyPair) -> tuple[int, dict[str, Any]]:
    """The page proves it holds the key: it signs the election and the finish token."""
    sig = signer.sign(FINISH_KIND, net.keys.chain_id, finish_message(net.login_poll.eid, token))
    async with aiohttp.ClientSession() as s:
        return await post(s, f"{net.url}/v1/login/finish", {"token": token, "signature": sig.hex()})


async def login(net: RegistrarNet, who: str, voter: KeyPair | None = None,
                **extra: Any) -> tuple[int, Any, str]:
    """A voter signs in with the city's provider and finishes with their key; returns the
    registrar's final answer (JSON, or the address the browser is sent back to)."""
    voter = voter or KeyPair.generate()
    async with client_session() as s:
        status, doc = await start_login(s, net, voter.ed25519_public, **extra)
        assert status == 200, doc
        url = doc["authorization_url"]
        assert "code_challenge_method=S256" in url and "nonce=" in url and doc["state"] in url
        back = await sign_in(s, url, who, net.callback)
        async with s.get(back, allow_redirects=False) as r:
            if r.status == 303:
                return r.status, r.headers["Location"], back
            answer = await r.json()
    if r.status != 200:
        return r.status, answer, back
    assert set(answer) == {"finish_token", "election_id", "voter_public"}, answer
    status, doc = await finish(net, answer["finish_token"], voter)
    return status, doc, back


async def test_city_login_registers_once_per_election(net: RegistrarNet) -> None:
    eid = net.login_poll.eid
    before = net.status(eid).registered
    voter = KeyPair.generate()
    status, doc, back = await login(net, "tsukuba-taro", voter)
    assert status == 200, doc
    assert doc["voter_public"] == voter.ed25519_public.hex()
    tx = net.tx(doc["tracking_code"])
    assert tx["status"] == "committed"
    assert "tsukuba-taro" not in json.dumps(tx)  # no identity reaches the chain
    assert net.status(eid).registered == before + 1
    # the same login a second time, with another key: refused with its code
    status, doc, _ = await login(net, "tsukuba-taro")
    assert (status, doc["error"]) == (409, "TX_CARD_TAG_USED")
    # the provider's answer replayed (same state and code): a state works once
    async with aiohttp.ClientSession() as s, s.get(back) as r:
        assert (r.status, (await r.json())["error"]) == (400, "REGISTRAR_LOGIN_UNKNOWN")
    assert net.status(eid).registered == before + 1
    log = (net.root / "registrar.log").read_text()
    assert "tsukuba-taro" not in log and "registered" in log


def test_paper_override_finds_a_login_by_the_manifests_issuer(net: RegistrarNet) -> None:
    """``voters cancel --login SUB`` takes the issuer from the election's manifest: the person
    is found (this election does not allow re-voting, so the chain then refuses the
    cancellation itself), while the same name at another issuer is nobody registered."""
    from click.testing import CliRunner

    from cli.main import cli

    eid = net.login_poll.eid
    args = ["voters", "cancel", eid.hex(), "--login", "tsukuba-taro", "--node", net.nodes[0].url,
            "--key", str(net.root / "net" / "authorities" / "registrar.key")]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0 and "[TX_CANCEL_NOT_ALLOWED]" in r.output, r.output  # found, posted
    assert "tsukuba-taro" not in r.output
    r = CliRunner().invoke(cli, [*args, "--issuer", "https://other.example"])
    assert r.exit_code != 0 and "[TX_NOT_ELIGIBLE]" in r.output, r.output  # not found, not posted
    assert "nothing was cancelled" in r.output
    assert net.status(eid).cancelled == 0
    # anyone sees which provider the election trusts, and the TOML form round-trips it
    r = CliRunner().invoke(cli, ["election", "show", eid.hex(), "--node", net.nodes[1].url])
    assert f"sign-in:     {net.issuer} (client {CLIENT_ID})" in r.output, r.output
    r = CliRunner().invoke(cli, ["election", "show", eid.hex(), "--node", net.nodes[1].url, "--toml"])
    assert f'login_provider = {{ issuer = "{net.issuer}", client_id = "{CLIENT_ID}" }}' in r.output


async def test_a_victims_login_cannot_register_an_attackers_key(net: RegistrarNet) -> None:
    """Login CSRF: the attacker starts a sign-in with their own key and gets a victim to
    complete it at the provider. The finish token reaches only the victim's browser, whose
    page holds another key; the attacker, who knows the state but not the token, cannot
    finish either. Nothing is registered."""
    eid = net.login_poll.eid
    before = net.status(eid).registered
    attacker, victim = KeyPair.generate(), KeyPair.generate()
    async with client_session() as s:
        _, doc = await start_login(s, net, attacker.ed25519_public)
        state = doc["state"]
    async with client_session() as victim_browser:  # the victim follows the attacker's link
        back = await sign_in(victim_browser, doc["authorization_url"], "csrf-victim", net.callback)
        async with victim_browser.get(back) as r:
            token = (await r.json())["finish_token"]
    status, answer = await finish(net, token, victim)  # the victim's page signs with its key
    assert (status, answer["error"]) == (403, "REGISTRAR_NOT_KEY_HOLDER")
    status, answer = await finish(net, state, attacker)  # the attacker only knows the state
    assert (status, answer["error"]) == (400, "REGISTRAR_LOGIN_UNKNOWN")
    async with aiohttp.ClientSession() as s:
        status, answer = await post(s, f"{net.url}/v1/login/finish", {"token": token, "signature": "zz"})
        assert (status, answer["error"]) == (403, "REGISTRAR_NOT_KEY_HOLDER")
        status, answer = await post(s, f"{net.url}/v1/login/finish", {"token": token})
        assert (status, answer["error"]) == (400, "API_BAD_REQUEST")
    assert net.status(eid).registered == before
    # the token still works for the key it was issued to, once
    status, answer = await finish(net, token, attacker)
    assert status == 200, answer  # (only the holder of the victim's browser could do this)
    status, answer = await finish(net, token, attacker)
    assert (status, answer["error"]) == (400, "REGISTRAR_LOGIN_UNKNOWN")
    assert net.status(eid).registered == before + 1


async def test_bad_sign_ins_get_a_code_and_change_nothing(net: RegistrarNet) -> None:
    eid = net.login_poll.eid
    before = net.status(eid).registered
    voter = KeyPair.generate().ed25519_public
    async with client_session() as s:
        # an invented state
        async with s.get(f"{net.callback}?state=made-up&code=x") as r:
            assert (r.status, (await r.json())["error"]) == (400, "REGISTRAR_LOGIN_UNKNOWN")
        # the provider says no (the voter cancelled)
        _, doc = await start_login(s, net, voter)
        async with s.get(f"{net.callback}?state={doc['state']}&error=access_denied") as r:
            assert (r.status, (await r.json())["error"]) == (502, "REGISTRAR_PROVIDER_ERROR")
        # a forged code
        _, doc = await start_login(s, net, voter)
        async with s.get(f"{net.callback}?state={doc['state']}&code=forged") as r:
            assert (r.status, (await r.json())["error"]) == (502, "REGISTRAR_PROVIDER_ERROR")
        # a real code with an answer claiming another issuer (RFC 9207 mix-up)
        _, doc = await start_login(s, net, voter)
        back = await sign_in(s, doc["authorization_url"], "mixup", net.callback)
        q = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        q["iss"] = "http://127.0.0.1:1"
        async with s.get(net.callback, params=q) as r:
            assert (r.status, (await r.json())["error"]) == (400, "ELIGIBILITY_WRONG_ISSUER")
        # bad starts: not a key, unknown election, card election, foreign return address
        status, doc = await post(s, f"{net.url}/v1/login/start",
                                 {"election_id": eid.hex(), "voter_public": "00" * 32})
        assert (status, doc["error"]) == (400, "TX_MALFORMED")
        status, doc = await post(s, f"{net.url}/v1/login/start",
                                 {"election_id": net.card_poll.eid.hex(), "voter_public": voter.hex()})
        assert (status, doc["error"]) == (404, "REGISTRAR_NOT_SERVED")
        status, doc = await start_login(s, net, voter, return_to="https://evil.example/vote/")
        assert (status, doc["error"]) == (400, "REGISTRAR_BAD_RETURN")
        status, doc = await post(s, f"{net.url}/v1/login/start", {"election_id": eid.hex()})
        assert (status, doc["error"]) == (400, "API_BAD_REQUEST")
    assert net.status(eid).registered == before


async def test_return_to_the_voting_page(net: RegistrarNet) -> None:
    page = f"{net.page_origin}/vote/{net.login_poll.eid.hex()}?lang=ja"
    voter = KeyPair.generate()
    status, location, _ = await login(net, "page-voter", voter, return_to=page)
    assert status == 303 and location.startswith(page + "#login=")
    token = parse_qs(location.split("#", 1)[1])["login"][0]
    status, doc = await finish(net, token, voter)
    assert status == 200 and net.tx(doc["tracking_code"])["status"] == "committed"
    status, location, _ = await login(net, "page-voter", return_to=page)
    assert status == 303 and location == page + "#registration_error=TX_CARD_TAG_USED"
    # the page's origin may call the service (CORS), another origin is not told it may
    async with aiohttp.ClientSession() as s:
        async with s.options(f"{net.url}/v1/login/start",
                             headers={"Origin": net.page_origin}) as r:
            assert r.status == 204
        async with s.get(f"{net.url}/v1/registrar", headers={"Origin": net.page_origin}) as r:
            assert r.headers["Access-Control-Allow-Origin"] == net.page_origin
            info = await r.json()
        async with s.get(f"{net.url}/v1/registrar", headers={"Origin": "https://evil.example"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers
    # the provider published is the one the election's manifest names
    assert info["login_provider"] == {"issuer": net.issuer, "client_id": CLIENT_ID}
    assert info["methods"] == ["registered-key", "city-login"]


def test_service_stops_cleanly_and_its_metrics_count(net: RegistrarNet, tmp_path: Path) -> None:
    import urllib.request

    with urllib.request.urlopen(net.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'ballotchain_registrar_requests_total{code="OK",method="registered-key"}' in text
    assert net.stop_registrar() == 0
    net.start_registrar()


# --- the provider is the manifest's -------------------------------------------------------


@dataclass
class Other:
    """A second identity provider, and a city-login election on the same chain naming it."""

    issuer: str
    poll: Poll


@pytest.fixture(scope="module")
def other(net: RegistrarNet) -> Iterator[Other]:
    with provider([{"client_id": CLIENT_ID, "client_secret": SECRET,
                    "redirect_uris": [net.callback]}]) as issuer:
        poll = net.polls.create("other-login-poll", "city-login", images=False,
                                login_provider=LoginProvider(issuer, CLIENT_ID))
        yield Other(issuer, poll)


async def real_token(issuer: str, net: RegistrarNet, who: str) -> tuple[str, str, Any]:
    """A sign-in at ``issuer`` for the registrar's client: (ID token, nonce, that provider's keys)."""
    async with client_session() as s:
        p = Provider(issuer, CLIENT_ID, net.callback, SECRET, s)
        nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        back = await sign_in(s, await p.authorization_url("st", nonce, verifier, "openid"), who,
                             net.callback)
        token = await p.exchange(parse_qs(urlsplit(back).query)["code"][0], verifier)
        return token, nonce, await p.keys(cl.token_key_id(token))


async def test_tokens_are_checked_against_the_elections_own_provider(net: RegistrarNet,
                                                                      other: Other) -> None:
    """Attack: a token from the provider another election's manifest names (same client id,
    a real signature by that provider) is refused for this election with its code."""
    eid = net.login_poll.eid
    before = net.status(eid).registered
    cfg = load_registrar_config(net.config(name="in-process", port=ln.free_base_port(1, start=24100)))
    voter = KeyPair.generate().ed25519_public
    async with aiohttp.ClientSession() as session:
        chain = ChainLink(net.nodes[0].url, net.keys.registrar, session)
        reg = Registrar(cfg, net.keys.registrar, chain,
                        lambda iss, cid: Provider(iss, cid, net.callback, SECRET, session))
        await reg.check_elections()
        assert reg.bound == (eid, LoginProvider(net.issuer, CLIENT_ID))  # from the manifest
        foreign, nonce, foreign_keys = await real_token(other.issuer, net, "visitor")
        lg = PendingLogin(eid, voter, nonce, "v" * 43, None, time.time() + 60)
        with pytest.raises(BallotchainError) as e:
            await reg.verify_login(lg, foreign)
        assert e.value.code == ErrorCode.ELIGIBILITY_TOKEN_INVALID  # not signed by the city's keys
        # even checked with the foreign provider's own keys, the manifest's issuer refuses it
        manifest = await chain.manifest(eid)
        assert manifest.login_provider is not None
        with pytest.raises(BallotchainError) as e:
            cl.verify_id_token(foreign, foreign_keys, manifest.login_provider.issuer,
                               manifest.login_provider.client_id, nonce, int(time.time()))
        assert e.value.code == ErrorCode.ELIGIBILITY_WRONG_ISSUER
        # ... which is exactly the provider of the other election, where it would verify
        assert cl.verify_id_token(foreign, foreign_keys, other.issuer, CLIENT_ID, nonce,
                                  int(time.time())).subject == "visitor"
        assert other.poll.manifest.login_provider == LoginProvider(other.issuer, CLIENT_ID)
        # the city's own token for this election passes the same path (the control)
        token, nonce, _ = await real_token(net.issuer, net, "resident")
        ok = await reg.verify_login(PendingLogin(eid, voter, nonce, "v" * 43, None, time.time() + 60), token)
        assert ok["voter_public"] == voter.hex()
        # a sign-in for an election naming another provider (one created after the start):
        # refused, the registrar stays bound to its provider
        lg = PendingLogin(other.poll.eid, voter, nonce, "v" * 43, None, time.time() + 60)
        with pytest.raises(BallotchainError) as e:
            await reg.verify_login(lg, foreign)
        assert e.value.code == ErrorCode.REGISTRAR_PROVIDER_MISMATCH
        assert HTTP_STATUS[e.value.code] == 503
        assert reg.bound == (eid, LoginProvider(net.issuer, CLIENT_ID))
    # over HTTP: the provider's answer naming the other election's provider (RFC 9207 mix-up)
    async with client_session() as s:
        _, doc = await start_login(s, net, voter)
        back = await sign_in(s, doc["authorization_url"], "mixup-2", net.callback)
        q = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        async with s.get(net.callback, params={**q, "iss": other.issuer}) as r:
            assert (r.status, (await r.json())["error"]) == (400, "ELIGIBILITY_WRONG_ISSUER")
    assert net.status(eid).registered == before


def refused_start(net: RegistrarNet, name: str, elections: list[bytes], pins: str = "") -> str:
    """Run ``registrar serve`` expecting it to refuse to start; its error line."""
    err = net.root / f"{name}.err"
    proc = net.serve(net.config(elections, ln.free_base_port(1, start=24200), name, pins), err)
    try:
        assert proc.wait(60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return err.read_text()


def test_a_registrar_refuses_to_serve_an_election_naming_another_provider(
        net: RegistrarNet, other: Other) -> None:
    """Attack/misconfiguration: a registrar configured for provider A (a pin, or the provider
    of its other election) serving an election naming provider B does not start."""
    # pinned to the city's provider, serving the election that names the other provider
    err = refused_start(net, "pinned", [other.poll.eid], f'issuer = "{net.issuer}"')
    assert "REGISTRAR_PROVIDER_MISMATCH" in err and other.issuer in err and "pins" in err
    # a pinned client id the manifest does not name
    err = refused_start(net, "client", [net.login_poll.eid], 'client_id = "another-client"')
    assert "REGISTRAR_PROVIDER_MISMATCH" in err and "another-client" in err
    # one secret, two providers: the two elections cannot share this registrar
    err = refused_start(net, "two", [net.login_poll.eid, other.poll.eid])
    assert "REGISTRAR_PROVIDER_MISMATCH" in err and "one client at one provider" in err
    assert "Traceback" not in err
    # the same registrar pinned to the right provider starts and serves
    assert net.get("/v1/registrar")["login_provider"]["issuer"] == net.issuer


# --- per-client rate limit ----------------------------------------------------------------


async def test_rate_limit_per_client_behind_a_trusted_proxy(net: RegistrarNet) -> None:
    """A tight limit (3 requests, then one per 10 s) on a second service, behind a proxy at
    127.0.0.1: each client's flood is refused with 429, other clients are served, a forged
    X-Forwarded-For changes nothing, and a flood of addresses does not grow the table."""
    port = ln.free_base_port(1, start=24300)
    url = f"http://127.0.0.1:{port}"
    limits = 'rate_per_minute = 6\nburst = 3\nmax_clients = 100\ntrusted_proxies = ["127.0.0.1"]'
    proc = net.serve(net.config(port=port, name="limited", limits=limits), net.root / "limited.err")
    eid, card_eid = net.login_poll.eid.hex(), net.card_poll.eid.hex()
    voter = KeyPair.generate().ed25519_public.hex()

    async def call(s: aiohttp.ClientSession, route: str, xff: str | None) -> tuple[int, Any, Any]:
        headers = {"Content-Type": "application/json"}
        if xff is not None:
            headers["X-Forwarded-For"] = xff
        body = {"/v1/login/start": {"election_id": eid, "voter_public": voter},
                "/v1/register/card": {"election_id": card_eid},
                "/v1/login/finish": {"token": "t", "signature": "00"}}.get(route)
        method = "GET" if route.startswith(("/v1/login/callback", "/v1/registrar")) else "POST"
        async with s.request(method, url + route, headers=headers,
                             data=None if body is None else json.dumps(body)) as r:
            return r.status, await r.json(), r.headers.get("Retry-After")

    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                try:
                    await call(s, "/v1/registrar", None)
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            a = "198.51.100.7"
            for _ in range(3):  # the burst: served (a sign-in starts each time)
                status, doc, _ = await call(s, "/v1/login/start", a)
                assert status == 200 and "authorization_url" in doc, doc
            status, doc, retry = await call(s, "/v1/login/start", a)
            assert (status, doc["error"], retry) == (429, "API_RATE_LIMITED", "10")
            # every costly route shares the bucket; reading the service's info does not
            for route in ("/v1/login/callback?state=x&code=y", "/v1/login/finish",
                          "/v1/register/card"):
                assert (await call(s, route, a))[:2] == (429, {"error": "API_RATE_LIMITED",
                        "message": "too many requests from this address; retry later"})
            assert (await call(s, "/v1/registrar", a))[0] == 200
            # the client writes the left of X-Forwarded-For: the proxy's hop is what counts
            assert (await call(s, "/v1/login/start", f"203.0.113.50, {a}"))[0] == 429
            assert (await call(s, "/v1/login/start", f"{a}, 127.0.0.1"))[0] == 429  # proxy chain
            # another client is not blocked by the flood
            status, doc, _ = await call(s, "/v1/login/start", "203.0.113.9")
            assert status == 200, doc
            # an IPv6 client is its /64: rotating addresses inside it does not help
            for i in range(3):
                assert (await call(s, "/v1/register/card", f"2001:db8::{i + 1}"))[0] == 400
            assert (await call(s, "/v1/register/card", "2001:db8::99"))[0] == 429
            assert (await call(s, "/v1/register/card", "2001:db8:0:1::1"))[0] == 400
            # a flood of 300 addresses: all served once, the table stays bounded
            got = await asyncio.gather(*(call(s, "/v1/register/card", f"10.9.{i // 250}.{i % 250}")
                                         for i in range(300)))
            assert {g[0] for g in got} == {400}
            async with s.get(url + "/metrics") as r:
                text = await r.text()
            clients = float(re.search(r"^ballotchain_registrar_rate_clients (\S+)$", text, re.M)[1])  # type: ignore[index]
            assert 0 < clients <= 100
            assert float(re.search(r"^ballotchain_registrar_rate_limited_total (\S+)$", text,  # type: ignore[index]
                                   re.M)[1]) >= 7
        # not through the proxy (127.0.0.2 is not trusted): X-Forwarded-For is ignored
        conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=conn) as s:
            codes = [(await call(s, "/v1/register/card", f"192.0.2.{i}"))[0] for i in range(5)]
            assert codes == [400, 400, 400, 429, 429]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_service_serves_https(net: RegistrarNet) -> None:
    """With tls_cert/tls_key the service speaks HTTPS only (last: it restarts the service)."""
    import ssl
    import urllib.request

    from tests.node.tlsca import make_ca_and_cert

    ca, cert, key = make_ca_and_cert(net.root / "tls")
    net.stop_registrar()
    net.tls, net.url = (cert, key), net.url.replace("http://", "https://")
    net.ssl_context = ssl.create_default_context(cafile=str(ca))
    try:
        net.start_registrar()
        assert net.get("/v1/registrar")["methods"] == ["registered-key", "city-login"]
        with pytest.raises(OSError):  # plain HTTP is not answered
            urllib.request.urlopen(net.url.replace("https://", "http://") + "/v1/registrar", timeout=5)
    finally:
        net.stop_registrar()
        net.tls, net.url, net.ssl_context = None, net.url.replace("https://", "http://"), None
