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

    [city_login]                         # the city's OpenID Connect provider
    issuer = "https://login.city.example"
    client_id = "ballotchain-registrar"
    client_secret_file = "oidc-client-secret"   # omit for a public client (PKCE only)
    redirect_uri = "https://registrar.city.example/v1/login/callback"

    [log]
    level = "info"
    json = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ballot_tx.errors import ErrorCode
from node.config import _REQUIRED, LOG_LEVELS, ConfigError, _bad, _path, _Table, parse_hostport


@dataclass(frozen=True)
class IdCardConfig:
    ca_cert: Path
    crl: Path


@dataclass(frozen=True)
class CityLoginConfig:
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = None
    scope: str = "openid"


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
        raise _bad(field_name, f"{value!r} is not an http(s) URL")
    return value


def parse_registrar_config(text: str, home: Path) -> RegistrarConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(ErrorCode.CONFIG_INVALID, f"registrar.toml is not valid TOML: {e}") from None
    top = _Table(doc, "config", ("service", "idcard", "city_login", "log"))
    svc = _Table(top.doc.get("service", {}), "service",
                 ("listen", "elections", "page_origins", "tls_cert", "tls_key", "batch_max",
                  "batch_wait_ms", "max_request_bytes", "login_ttl_s"))
    host, port = parse_hostport("service.listen", svc.get_str("listen", _REQUIRED))
    elections = []
    for i, item in enumerate(svc.get_list("elections")):
        try:
            raw = bytes.fromhex(item) if isinstance(item, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise _bad(f"service.elections[{i}]", "expected an election id (64 hex characters)")
        elections.append(raw)
    if not elections:
        raise _bad("service.elections", "name at least one election id")
    origins = []
    for i, o in enumerate(svc.get_list("page_origins")):
        origin = origin_of(o) if isinstance(o, str) else None
        if origin is None or origin != o.rstrip("/").lower():
            raise _bad(f"service.page_origins[{i}]", f"{o!r} is not an origin like https://host:port")
        origins.append(origin)
    tls_cert, tls_key = svc.get_str("tls_cert"), svc.get_str("tls_key")
    if (tls_cert is None) != (tls_key is None):
        raise _bad("service.tls_cert" if tls_cert is None else "service.tls_key",
                   "tls_cert and tls_key must be set together")
    idcard = None
    if "idcard" in top.doc:
        t = _Table(top.doc["idcard"], "idcard", ("ca_cert", "crl"))
        idcard = IdCardConfig(_path(home, "idcard.ca_cert", t.get_str("ca_cert", _REQUIRED)),
                              _path(home, "idcard.crl", t.get_str("crl", _REQUIRED)))
    login = None
    if "city_login" in top.doc:
        t = _Table(top.doc["city_login"], "city_login",
                   ("issuer", "client_id", "client_secret_file", "redirect_uri", "scope"))
        secret = None
        secret_file = t.get_str("client_secret_file")
        if secret_file is not None:
            path = _path(home, "city_login.client_secret_file", secret_file)
            try:
                secret = path.read_text().strip()
            except OSError as e:
                raise _bad("city_login.client_secret_file", f"cannot read {path}: {e}") from None
            if not secret:
                raise _bad("city_login.client_secret_file", f"{path} is empty")
        scope = t.get_str("scope", "openid")
        if "openid" not in scope.split():
            raise _bad("city_login.scope", "must include 'openid'")
        login = CityLoginConfig(
            issuer=_url("city_login.issuer", t.get_str("issuer", _REQUIRED)).rstrip("/"),
            client_id=t.get_str("client_id", _REQUIRED),
            redirect_uri=_url("city_login.redirect_uri", t.get_str("redirect_uri", _REQUIRED)),
            client_secret=secret, scope=scope)
    if idcard is None and login is None:
        raise _bad("config", "configure at least one method: [idcard] or [city_login]")
    log = _Table(top.doc.get("log", {}), "log", ("level", "json", "file"))
    level = log.get_str("level", "info")
    if level not in LOG_LEVELS:
        raise _bad("log.level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    log_file = log.get_str("file")
    d = RegistrarConfig("", 0, ())
    return RegistrarConfig(
        listen_host=host, listen_port=port, elections=tuple(elections),
        page_origins=tuple(origins),
        tls_cert=None if tls_cert is None else _path(home, "service.tls_cert", tls_cert),
        tls_key=None if tls_key is None else _path(home, "service.tls_key", tls_key),
        batch_max=svc.get_int("batch_max", d.batch_max, 1, 1000),
        batch_wait_ms=svc.get_int("batch_wait_ms", d.batch_wait_ms, 0, 60_000),
        max_request_bytes=svc.get_int("max_request_bytes", d.max_request_bytes, 1024, 1 << 22),
        login_ttl_s=svc.get_int("login_ttl_s", d.login_ttl_s, 30, 3600),
        idcard=idcard, city_login=login,
        log_level=level, log_json=log.get_bool("json", False),
        log_file=None if log_file is None else _path(home, "log.file", log_file),
    )


def load_registrar_config(path: Path) -> RegistrarConfig:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"no registrar config at {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(ErrorCode.CONFIG_MISSING, f"cannot read {path}: {e}") from None
    return parse_registrar_config(text, path.resolve().parent)
