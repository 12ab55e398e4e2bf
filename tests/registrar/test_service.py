"""The registrar service end to end: ID-card requests and the city login over HTTP,
registered on a real 4-validator chain in batches; every refusal has its code and
changes nothing on chain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from ballot_tx.keys import KeyPair
from cli.card_authority import new_authority
from node.registrar import FINISH_KIND, finish_message
from tests.registrar.chainnet import RegistrarNet
from tests.registrar.oidc import client_session, sign_in


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
    assert info["issuer"] == net.issuer and info["methods"] == ["registered-key", "city-login"]


def test_service_stops_cleanly_and_its_metrics_count(net: RegistrarNet, tmp_path: Path) -> None:
    import urllib.request

    with urllib.request.urlopen(net.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'ballotchain_registrar_requests_total{code="OK",method="registered-key"}' in text
    assert net.stop_registrar() == 0
    net.start_registrar()


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
