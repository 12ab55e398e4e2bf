"""A real 4-validator localnet with a card election and a city-login election, the test
OpenID Connect provider, a card authority, and ``ballotchain registrar serve`` running
against them (as a separate process, as a city would run it)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.eligibility.idcard import Card, CardRegistration, make_registration
from ballot_tx.keys import KeyPair
from ballot_tx.state.records import ElectionStatus
from cli.card_authority import Authority, issue_card, make_crl, new_authority
from genesis.localnet import DEFAULT_PARAMS
from harness.netchain import NetworkChain
from harness.txgen import NetKeys
from harness.webpoll import Poll, PollRunner
from node import localnet as ln
from node.homes import make_network
from tests.node.registrar.oidc import provider

PARAMS = dataclasses.replace(DEFAULT_PARAMS, max_block_txs=200, block_interval_ms=100,
                             view_timeout_ms=2000, checkpoint_interval=50)
ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "ballotchain-registrar"
SECRET = "registrar-client-secret-0123456789abcdef"
NO_LIMIT = "rate_per_minute = 1000000\nburst = 100000"


def holder_name(serial: int) -> str:
    """The test card holder of card ``serial`` (one person per serial)."""
    return f"筑波 花子 {serial}"


def holder_birth(serial: int) -> date:
    return date(1950, 1, 1) + timedelta(days=serial)


class RegistrarNet:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stack = ExitStack()
        make_network(root / "net", "regtest", 4, 0, ln.free_base_port(4), params=PARAMS)
        self.keys = NetKeys(root / "net")
        self.nodes = ln.discover(root / "net")
        self.page_origin = self.nodes[1].url  # voters open the page on validator 1
        self.trustees = [KeyPair.from_seed(bytes([0x61 + i]) * 32) for i in range(3)]
        self.chain = NetworkChain(self.keys.chain_id, [n.url for n in self.nodes], self.nodes[0].url)
        self.polls = PollRunner(self.chain, self.keys.admin, self.keys.registrar,  # type: ignore[arg-type]
                                self.trustees)
        self.port = ln.free_base_port(1, start=24000)
        self.url = f"http://127.0.0.1:{self.port}"
        self.callback = f"{self.url}/v1/login/callback"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls: tuple[Path, Path] | None = None  # (certificate, key) to serve HTTPS with
        self.ssl_context: ssl.SSLContext | None = None
        now = datetime.now(UTC)
        self.ca: Authority = new_authority(now)
        self.revoked: dict[int, datetime] = {}
        (root / "ca.pem").write_bytes(self.ca.cert_pem())
        self.write_crl()

    def write_crl(self) -> None:
        (self.root / "crl.pem").write_bytes(make_crl(self.ca, self.revoked, datetime.now(UTC)))

    def start(self) -> None:
        try:
            for n in self.nodes:
                ln.start(n)
            ln.wait_ready(self.nodes, timeout=60)
            self.issuer = self.stack.enter_context(provider([
                {"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [self.callback]},
            ]))
            self.card_poll: Poll = self.polls.create("card-poll", "registered-key", images=False)
            # the election names the city's provider: the registrar checks tokens against it
            self.login_poll: Poll = self.polls.create("login-poll", "city-login", images=False,
                                                      login_provider=LoginProvider(self.issuer, CLIENT_ID))
            self.start_registrar()
        except BaseException:
            self.stop()
            raise

    def config(self, elections: list[bytes] | None = None, port: int | None = None,
               name: str = "registrar", city_login: str = "", limits: str = "") -> Path:
        """registrar.toml: the provider comes from the manifests (``city_login`` adds lines,
        e.g. pins); the rate limit is out of the way unless ``limits`` says otherwise."""
        (self.root / "oidc-secret").write_text(SECRET + "\n")
        cfg = self.root / f"{name}.toml"
        served = elections if elections is not None else [self.card_poll.eid, self.login_poll.eid]
        cfg.write_text(f"""
[service]
listen = "127.0.0.1:{port or self.port}"
{f'tls_cert = "{self.tls[0]}"' if self.tls else ""}
{f'tls_key = "{self.tls[1]}"' if self.tls else ""}
elections = [{", ".join(f'"{e.hex()}"' for e in served)}]
page_origins = ["{self.page_origin}"]
batch_max = 50
batch_wait_ms = 300

[idcard]
ca_cert = "ca.pem"
crl = "crl.pem"

[city_login]
client_secret_file = "oidc-secret"
redirect_uri = "{self.callback}"
{city_login}

[limits]
{limits or NO_LIMIT}

[log]
level = "info"
json = true
file = "{name}.log"
""")
        return cfg

    def serve(self, config: Path, stderr: Path) -> subprocess.Popen[bytes]:
        """``ballotchain registrar serve`` with ``config`` (the caller stops it)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "registrar", "serve",
             "--key", str(self.root / "net" / "authorities" / "registrar.key"),
             "--node", self.nodes[0].url, "--config", str(config)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(stderr, "ab"),  # noqa: SIM115
        )

    def start_registrar(self) -> None:
        self.proc = self.serve(self.config(), self.root / "registrar.err")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("registrar exited: " + (self.root / "registrar.err").read_text())
            try:
                self.get("/v1/registrar")
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the registrar service did not start")

    def stop_registrar(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc = None

    def stop(self) -> None:
        self.stop_registrar()
        self.stack.close()
        for n in self.nodes:
            if n.pid() is not None:
                ln.stop(n)

    # --- reading ---

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10, context=self.ssl_context) as r:
            return json.loads(r.read())

    def status(self, eid: bytes) -> ElectionStatus:
        st = self.chain.state.election(eid)
        assert st is not None
        return st

    def tx(self, tracking_code: str) -> dict[str, Any]:
        """The transaction as validator 1 reports it. The registrar waited for the commit on
        validator 0; validator 1 may be a block behind for a moment (it answered "pending"
        once in a full run), so a pending answer is asked again for up to 5 s."""
        url = f"{self.nodes[1].url}/v1/txs/{tracking_code}"
        doc: dict[str, Any] | None = None
        for _ in range(50):
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    doc = json.loads(r.read())
            except urllib.error.HTTPError:
                doc = None
            if doc is not None and doc.get("status") != "pending":
                return doc
            time.sleep(0.1)
        if doc is not None:
            return doc
        raise AssertionError(f"no transaction {tracking_code}")

    # --- ID cards ---

    def card(self, serial: int, days: int = 365) -> Card:
        now = datetime.now(UTC)
        cert, key = issue_card(self.ca, serial, holder_name(serial), now - timedelta(days=1),
                               now + timedelta(days=days), key_type="ec",
                               birth_date=holder_birth(serial))
        return Card(cert.public_bytes(serialization.Encoding.DER), key)

    def card_request(self, card: Card, voter: KeyPair | None = None,
                     eid: bytes | None = None) -> CardRegistration:
        voter = voter or KeyPair.generate()
        return make_registration(card, eid or self.card_poll.eid, voter.ed25519_public)
