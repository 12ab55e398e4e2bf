"""Linux network namespaces as hosts: one per organisation, veth pairs to one bridge.

Each "host" is a namespace with its own loopback and ``eth0`` in a private /24
chosen at random (and checked unused), the host side of its veth plugged into a
bridge that also carries an address for the test itself (the "operator's
laptop"). Names carry the test process id, so parallel runs never collide, and
``cleanup`` removes every namespace and link it made even after a failure.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import random
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IP = shutil.which("ip") or "/usr/sbin/ip"


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [IP, "netns", "exec", ns, IP, *args] if ns else [IP, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run scripts/test as root)"
    if not Path(IP).exists():
        return "the ip command (iproute2) is not installed"
    probe = f"bcprobe{os.getpid()}"
    p = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return f"cannot create a network namespace: {p.stderr.strip()}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True, timeout=30)
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    used = ip("-4", "-o", "addr").stdout + ip("-4", "route").stdout
    rnd = random.Random()
    for _ in range(100):
        a, b = rnd.randrange(200, 250), rnd.randrange(256)
        if f"10.{a}.{b}." not in used:
            return ipaddress.IPv4Network(f"10.{a}.{b}.0/24")
    raise RuntimeError("no free private /24 for the test network")


@dataclass
class Hosts:
    count: int
    prefix: str = field(default_factory=lambda: f"bc{os.getpid() % 100000}")
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    made_ns: list[str] = field(default_factory=list)
    made_links: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    def ns(self, i: int) -> str:
        return f"{self.prefix}ns{i}"

    def addr(self, i: int) -> str:
        return str(self.subnet.network_address + 1 + i)

    @property
    def operator_addr(self) -> str:
        return str(self.subnet.network_address + 254)

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        ip("addr", "add", f"{self.operator_addr}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i in range(self.count):
            ns, host_end, ns_end = self.ns(i), f"{self.prefix}h{i}", f"{self.prefix}n{i}"
            ip("netns", "add", ns)
            self.made_ns.append(ns)
            ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            self.made_links.append(host_end)
            ip("link", "set", host_end, "master", self.bridge)
            ip("link", "set", host_end, "up")
            ip("link", "set", ns_end, "netns", ns)
            ip("link", "set", ns_end, "name", "eth0", ns=ns)
            ip("addr", "add", f"{self.addr(i)}/24", "dev", "eth0", ns=ns)
            ip("link", "set", "eth0", "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)

    def cut(self, i: int) -> None:
        """Pull host i's network cable (its side of the link goes down)."""
        ip("link", "set", "eth0", "down", ns=self.ns(i))

    def heal(self, i: int) -> None:
        ip("link", "set", "eth0", "up", ns=self.ns(i))

    def run(self, i: int, *cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([IP, "netns", "exec", self.ns(i), *cmd], capture_output=True,
                              text=True, timeout=120, cwd=cwd)

    def cleanup(self) -> None:
        for ns in reversed(self.made_ns):
            pids = ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            ip("netns", "del", ns, check=False)
        for link in reversed(self.made_links):
            ip("link", "del", link, check=False)
        self.made_ns.clear()
        self.made_links.clear()

    def leftovers(self) -> list[str]:
        names = ip("-o", "link").stdout + ip("netns", "list").stdout
        return [w for w in names.split() if w.startswith(self.prefix)]


# --- a private CA for the hosts' TLS certificates --------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class PrivateCA:
    """The consortium's own CA: issues each host a certificate for its IP address."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Ballotchain consortium CA"))
            .issuer_name(_name("Ballotchain consortium CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = out / "ca.crt"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, out: Path, address: str) -> None:
        """Write out/node.crt, out/node.key (0600) and out/ca.crt for ``address``."""
        out.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(address))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        (out / "node.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(out / "node.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        shutil.copy(self.path, out / "ca.crt")
