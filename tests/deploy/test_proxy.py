"""deploy/nginx/ballotchain.conf serves a live network over HTTPS, run by Debian's real nginx.

The shipped file is used as written except for what an operator substitutes
(ports, certificate paths, the node's address): voters get /vote/ over TLS with
the security headers, plain HTTP is redirected, transactions commit through the
proxy, and the backup route is closed to the outside.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from harness.txgen import create_elections
from node import localnet as ln
from tests.conftest import skip_unless_setup_installs
from tests.node.netutil import running
from tests.node.tlsca import make_ca_and_cert

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ballotchain.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture(autouse=True)
def _needs_nginx() -> None:
    if NGINX is None:
        skip_unless_setup_installs("nginx not installed (scripts/_setup.sh installs nginx-light as root)")


def site_conf(node_addr: str, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    text = CONF.read_text()
    for old, new in (
        ("server 127.0.0.1:7700;", f"server {node_addr};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/ssl/ballotchain/vote.city.example.crt", str(cert)),
        ("/etc/ssl/ballotchain/vote.city.example.key", str(key)),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def main_conf(tmp: Path, site: Path) -> str:
    temp = "\n".join(f"    {k}_temp_path {tmp / k};" for k in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"user root;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\n"
            f"error_log {tmp / 'error.log'} warn;\ndaemon off;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n    access_log {tmp / 'access.log'};\n{temp}\n    include {site};\n}}\n")


class Resp:
    def __init__(self, status: int, headers: Message, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


def request(url: str, ctx: ssl.SSLContext | None, method: str = "GET", data: bytes | None = None,
            headers: dict[str, str] | None = None) -> Resp:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: object, **k: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


def test_nginx_example_serves_the_network_over_https(tmp_path: Path) -> None:
    assert NGINX is not None
    with running(tmp_path / "net") as net:
        node = net.validators[0]
        addr = node.url.removeprefix("http://")
        base = ln.free_base_port(2)
        tls = tmp_path / "tls"
        ca, cert, key = make_ca_and_cert(tls)
        ngx = tmp_path / "nginx"
        ngx.mkdir()
        site = ngx / "ballotchain.conf"
        site.write_text(site_conf(addr, base, base + 1, cert, key))
        conf = ngx / "nginx.conf"
        conf.write_text(main_conf(ngx, site))
        t = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(ngx)], capture_output=True,
                           text=True, timeout=30)
        assert t.returncode == 0 and "test is successful" in t.stderr, t.stderr
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(ngx)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            ctx = ssl.create_default_context(cafile=str(ca))
            https = f"https://127.0.0.1:{base + 1}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    page = request(f"{https}/vote/", ctx)
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                    time.sleep(0.2)
            # the voting page, with the headers a browser needs
            assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
            assert b"<html" in page.body.lower()
            h = page.headers
            assert h["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
            assert h.get_all("X-Content-Type-Options") == ["nosniff"]
            assert h.get_all("Referrer-Policy") == ["no-referrer"]
            assert h["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
            # a client that does not trust the CA is refused at the handshake
            with pytest.raises(urllib.error.URLError):
                request(f"{https}/vote/", ssl.create_default_context())
            root = request(f"{https}/", ctx)
            assert root.status == 302 and root.headers["Location"].endswith("/vote/")
            plain = request(f"http://127.0.0.1:{base}/vote/", None)
            assert plain.status == 301 and plain.headers["Location"].startswith("https://")
            # the API through the proxy: a transaction commits
            tx = create_elections(net.keys, 1, tag="proxy")[0]
            r = request(f"{https}/v1/txs?wait=commit", ctx, "POST", tx,
                        {"Content-Type": "application/msgpack"})
            assert r.status == 200 and b'"committed"' in r.body, r.body
            status = request(f"{https}/v1/status", ctx)
            assert status.status == 200 and b'"chain": "nettest"' in status.body
            assert status.headers["Strict-Transport-Security"]
            # errors keep the node's code and the proxy's headers
            missing = request(f"{https}/v1/blocks/999999", ctx)
            assert missing.status == 404 and b"API_NOT_FOUND" in missing.body
            assert missing.headers["X-Frame-Options"] == "DENY"
            # the backup route is closed at the proxy
            assert request(f"{https}/v1/admin/backup", ctx).status == 403
            assert request(f"{https}/metrics", ctx).status == 200  # from 127.0.0.1
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
