"""The registrar service's ``registrar.toml``, read strictly like a node's ``config.toml``.

Every problem is a ``ConfigError`` (``CONFIG_INVALID``) naming the field. Relative
paths are resolved against the directory holding the file. Example::

    [service]
    listen = "127.0.0.1:7300"
    elections = ["504433d8..."]          # elections this service registers voters for
    page_origins = ["https://vote.city.example"]  # voting pages allowed to call it
    # tls_cert = "tls/registrar.pem"     # or run it behind the city's TLS proxy
    # tls_key = "tls/registrar-key.pem"
    batch_max = 500                      # registrations per transaction
    batch_wait_ms = 200                  # how long a batch collects requests

    [idcard]                             # ID-card requests (``voter card-sign`` output)
    ca_cert = "card-ca.pem"
    crl = "card-crl.pem"                 # re-read when the file changes

    [city_login]                         # the secret side of the city's OpenID Connect client
    client_secret_file = "oidc-client-secret"   # omit for a public client (PKCE only)
    redirect_uri = "https://registrar.city.example/v1/login/callback"
    # the provider itself (issuer, client id) is named by each election's manifest; to pin
    # it (the service refuses to start if a served manifest names another):
    # issuer = "https://login.city.example"
    # client_id = "ballotchain-registrar"

    [limits]                             # per-client token bucket on the unauthenticated routes
    rate_per_minute = 60
    burst = 20
    max_clients = 10000                  # clients remembered (least recently seen forgotten)
    trusted_proxies = ["127.0.0.1"]      # X-Forwarded-For is honoured only from these

    [log]
    level = "info"
    json = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from ballot_tx.eligibility.city_login import check_issuer
from ballot_tx.errors import ErrorCode, ManifestError
from node.toml_table import (
    LOG_LEVELS,
    REQUIRED,
    ConfigError,
    StrictTable,
    config_path,
    field_error,
    parse_hostport,
)


@dataclass(frozen=True)
class IdCardConfig:
    ca_cert: Path
    crl: Path


@dataclass(frozen=True)
class CityLoginConfig:
    """The registrar's side of the city-login client: the secret and the redirect URI. The
    provider (issuer, client id) is each election manifest's ``login_provider``; ``issuer``
    and ``client_id`` here are optional pins checked against the manifests at start."""

    redirect_uri: str
    client_secret: str | None = None
    scope: str = "openid"
    issuer: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class LimitsConfig:
    """Per-client token bucket on the routes that create state or cost work (sign-in start,
    callback and finish, card requests). A client is its address (an IPv6 client its /64),
    or the first untrusted X-Forwarded-For hop when the request comes from a trusted proxy."""

    rate_per_minute: int = 60
    burst: int = 20
    max_clients: int = 10_000
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True)
class RegistrarConfig:
    listen_host: str
    listen_port: int
    elections: tuple[bytes, ...]
    page_origins: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    batch_max: int = 500
    batch_wait_ms: int = 200
    max_request_bytes: int = 64 * 1024
    login_ttl_s: int = 600
    idcard: IdCardConfig | None = None
    city_login: CityLoginConfig | None = None
    limits: LimitsConfig = LimitsConfig()
    log_level: str = "info"
    log_json: bool = False
    log_file: Path | None = None


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _url(field_name: str, value: str) -> str:
    if origin_of(value) is None:
        raise field_error(field_name, f"{value!r} is not an http(s) URL")
    return value


def parse_registrar_config(text: str, home: Path) -> RegistrarConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(ErrorCode.CONFIG_INVALID, f"registrar.toml is not valid TOML: {e}") from None
    top = StrictTable(doc, "config", ("service", "idcard", "city_login", "limits", "log"))
    svc = StrictTable(top.doc.get("service", {}), "service",
                      ("listen", "elections", "page_origins", "tls_cert", "tls_key", "batch_max",
                       "batch_wait_ms", "max_request_bytes", "login_ttl_s"))
    host, port = parse_hostport("service.listen", svc.get_str("listen", REQUIRED))
    elections = []
    for i, item in enumerate(svc.get_list("elections")):
        try:
            raw = bytes.fromhex(item) if isinstance(item, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise field_error(f"service.elections[{i}]", "expected an election id (64 hex characters)")
        elections.append(raw)
    if not elections:
        raise field_error("service.elections", "name at least one election id")
    origins = []
    for i, o in enumerate(svc.get_list("page_origins")):
        origin = origin_of(o) if isinstance(o, str) else None
        if origin is None or origin != o.rstrip("/").lower():
            raise field_error(f"service.page_origins[{i}]", f"{o!r} is not an origin like https://host:port")
        origins.append(origin)
    tls_cert, tls_key = svc.get_str("tls_cert"), svc.get_str("tls_key")
    if (tls_cert is None) != (tls_key is None):
        raise field_error("service.tls_cert" if tls_cert is None else "service.tls_key",
                          "tls_cert and tls_key must be set together")
    idcard = None
    if "idcard" in top.doc:
        t = StrictTable(top.doc["idcard"], "idcard", ("ca_cert", "crl"))
        idcard = IdCardConfig(config_path(home, "idcard.ca_cert", t.get_str("ca_cert", REQUIRED)),
                              config_path(home, "idcard.crl", t.get_str("crl", REQUIRED)))
    login = None
    if "city_login" in top.doc:
        t = StrictTable(top.doc["city_login"], "city_login",
                        ("issuer", "client_id", "client_secret_file", "redirect_uri", "scope"))
        secret = None
        secret_file = t.get_str("client_secret_file")
        if secret_file is not None:
            path = config_path(home, "city_login.client_secret_file", secret_file)
            try:
                secret = path.read_text().strip()
            except OSError as e:
                raise field_error("city_login.client_secret_file", f"cannot read {path}: {e}") from None
            if not secret:
                raise field_error("city_login.client_secret_file", f"{path} is empty")
        scope = t.get_str("scope", "openid")
        if "openid" not in scope.split():
            raise field_error("city_login.scope", "must include 'openid'")
        issuer = t.get_str("issuer")
        if issuer is not None:
            try:
                check_issuer(issuer, "city_login.issuer")
            except ManifestError as e:
                raise field_error("city_login.issuer", e.message.partition(": ")[2]) from None
        client_id = t.get_str("client_id")
        if client_id is not None and not client_id.strip():
            raise field_error("city_login.client_id", "must not be empty")
        login = CityLoginConfig(
            redirect_uri=_url("city_login.redirect_uri", t.get_str("redirect_uri", REQUIRED)),
            client_secret=secret, scope=scope, issuer=issuer, client_id=client_id)
    if idcard is None and login is None:
        raise field_error("config", "configure at least one method: [idcard] or [city_login]")
    lim = StrictTable(top.doc.get("limits", {}), "limits",
                      ("rate_per_minute", "burst", "max_clients", "trusted_proxies"))
    proxies = []
    for i, item in enumerate(lim.get_list("trusted_proxies")):
        try:
            proxies.append(ip_network(item, strict=False) if isinstance(item, str) else None)
        except ValueError:
            proxies.append(None)
        if proxies[-1] is None:
            raise field_error(f"limits.trusted_proxies[{i}]", f"{item!r} is not an IP address or network")
    dl = LimitsConfig()
    limits = LimitsConfig(
        rate_per_minute=lim.get_int("rate_per_minute", dl.rate_per_minute, 1, 1_000_000),
        burst=lim.get_int("burst", dl.burst, 1, 1_000_000),
        max_clients=lim.get_int("max_clients", dl.max_clients, 100, 10_000_000),
        trusted_proxies=tuple(p for p in proxies if p is not None))
    log = StrictTable(top.doc.get("log", {}), "log", ("level", "json", "file"))
    level = log.get_str("level", "info")
    if level not in LOG_LEVELS:
        raise field_error("log.level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    log_file = log.get_str("file")
    d = RegistrarConfig("", 0, ())
    return RegistrarConfig(
        listen_host=host, listen_port=port, elections=tuple(elections),
        page_origins=tuple(origins),
        tls_cert=None if tls_cert is None else config_path(home, "service.tls_cert", tls_cert),
        tls_key=None if tls_key is None else config_path(home, "service.tls_key", tls_key),
        batch_max=svc.get_int("batch_max", d.batch_max, 1, 1000),
        batch_wait_ms=svc.get_int("batch_wait_ms", d.batch_wait_ms, 0, 60_000),
        max_request_bytes=svc.get_int("max_request_bytes", d.max_request_bytes, 1024, 1 << 22),
        login_ttl_s=svc.get_int("login_ttl_s", d.login_ttl_s, 30, 3600),
        idcard=idcard, city_login=login, limits=limits,
        log_level=level, log_json=log.get_bool("json", False),
        log_file=None if log_file is None else config_path(home, "log.file", log_file),
    )


def load_registrar_config(path: Path) -> RegistrarConfig:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"no registrar config at {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"cannot read {path}: {e}") from None
    return parse_registrar_config(text, path.resolve().parent)
