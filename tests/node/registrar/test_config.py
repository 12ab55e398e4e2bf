"""registrar.toml is read strictly: every mistake names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballot_tx.errors import ErrorCode
from node.config import ConfigError
from node.registrar.config import load_registrar_config, parse_registrar_config

EID = "ab" * 32
GOOD = f"""
[service]
listen = "127.0.0.1:7300"
elections = ["{EID}"]
page_origins = ["https://vote.city.example"]
[idcard]
ca_cert = "ca.pem"
crl = "crl.pem"
[city_login]
issuer = "https://login.city.example"
client_id = "ballotchain-registrar"
redirect_uri = "https://registrar.city.example/v1/login/callback"
"""


def test_good_config_resolves_paths_against_its_directory(tmp_path: Path) -> None:
    cfg = parse_registrar_config(GOOD, tmp_path)
    assert cfg.elections == (bytes.fromhex(EID),)
    assert cfg.idcard is not None and cfg.idcard.ca_cert == tmp_path / "ca.pem"
    assert cfg.city_login is not None and cfg.city_login.issuer == "https://login.city.example"
    assert cfg.city_login.client_secret is None and cfg.batch_max == 500
    assert cfg.limits.rate_per_minute == 60 and cfg.limits.burst == 20  # the defaults
    assert cfg.limits.trusted_proxies == ()


def test_the_provider_lives_in_the_manifest_the_config_may_pin_it(tmp_path: Path) -> None:
    """Only the secret side is required: issuer and client id are optional pins."""
    lines = [ln for ln in GOOD.splitlines() if not ln.startswith(("issuer", "client_id"))]
    cfg = parse_registrar_config("\n".join(lines) + """
[limits]
rate_per_minute = 6
burst = 3
max_clients = 100
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]
""", tmp_path)
    assert cfg.city_login is not None
    assert (cfg.city_login.issuer, cfg.city_login.client_id) == (None, None)
    assert cfg.city_login.redirect_uri.endswith("/v1/login/callback")
    assert (cfg.limits.rate_per_minute, cfg.limits.burst, cfg.limits.max_clients) == (6, 3, 100)
    assert [str(n) for n in cfg.limits.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda t: t.replace('listen = "127.0.0.1:7300"', 'listen = "nowhere"'), "service.listen"),
    (lambda t: t.replace(f'["{EID}"]', '["abc"]'), "service.elections[0]"),
    (lambda t: t.replace(f'["{EID}"]', "[]"), "service.elections"),
    (lambda t: t.replace('"https://vote.city.example"', '"https://vote.city.example/vote/"'),
     "service.page_origins[0]"),
    (lambda t: t.replace("[service]", "[service]\nbatch_max = 5000"), "service.batch_max"),
    (lambda t: t.replace("[service]", "[service]\ncolour = 1"), "service.colour"),
    (lambda t: t.replace('issuer = "https://login.city.example"', 'issuer = "login"'),
     "city_login.issuer"),
    (lambda t: t.replace('issuer = "https://login.city.example"',
                         'issuer = "https://login.city.example/"'), "city_login.issuer"),
    (lambda t: t.replace('client_id = "ballotchain-registrar"', 'scope = "profile"'),
     "city_login.scope"),
    (lambda t: t.replace('client_id = "ballotchain-registrar"', 'client_id = " "'),
     "city_login.client_id"),
    (lambda t: t.replace('redirect_uri', 'redirect'), "city_login.redirect"),
    (lambda t: t + "[limits]\nrate_per_minute = 0\n", "limits.rate_per_minute"),
    (lambda t: t + "[limits]\nmax_clients = 5\n", "limits.max_clients"),
    (lambda t: t + '[limits]\ntrusted_proxies = ["10.0.0.0/8", "proxy.city"]\n',
     "limits.trusted_proxies[1]"),
    (lambda t: t.replace('client_id = "ballotchain-registrar"',
                         'client_id = "x"\nclient_secret_file = "missing"'),
     "city_login.client_secret_file"),
    (lambda t: t.split("[idcard]")[0], "config"),
])
def test_mistakes_name_their_field(tmp_path: Path, change, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as e:
        parse_registrar_config(change(GOOD), tmp_path)
    assert e.value.code == ErrorCode.CONFIG_INVALID
    assert f"config field {field}:" in e.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_registrar_config(tmp_path / "registrar.toml")
    assert e.value.code == ErrorCode.CONFIG_MISSING
