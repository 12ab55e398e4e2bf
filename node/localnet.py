"""A local network as separate processes on 127.0.0.1: start, query, stop.

Each node runs ``python -m cli.main node start --home HOME`` in its own process
group, logging to ``HOME/node.log``; the node writes ``HOME/node.pid`` itself.
``stop`` sends SIGTERM and, after a timeout, SIGKILL. Used by ``ballotchain
localnet``, the demo, the multi-process tests and ``scripts/bench_network``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.config import load_config
from node.pidfile import pid_alive

HOMES_GLOB = ("validator-*", "observer-*")


@dataclass
class LocalNode:
    name: str
    home: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None
    ca_file: Path | None = None  # the CA that signed the node's TLS certificate, if it serves TLS

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "node.log"

    def pid(self) -> int | None:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None


def _ephemeral_low(default: int = 32768) -> int:
    """Lowest port the kernel hands out to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_base_port(count: int, start: int = 20000, end: int | None = None) -> int:
    """A base port such that ``count`` consecutive loopback ports are free now.

    The range stays below the kernel's ephemeral ports: a client polling a port
    in that range before its server listens can be given that very port as its
    own source port and connect to itself (TCP self-connect), reading back its
    own request as the "response".
    """
    import random

    end = min(end or 65536, _ephemeral_low())
    for _ in range(200):
        base = random.randrange(start, end - count)
        ok = True
        for p in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free range of loopback ports")


def discover(net_dir: Path) -> list[LocalNode]:
    """The node homes under ``net_dir`` (validators first, in index order)."""
    homes: list[Path] = []
    for pattern in HOMES_GLOB:
        homes += sorted(net_dir.glob(pattern), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    out = []
    for h in homes:
        cfg = load_config(h)
        scheme = "https" if cfg.tls else "http"
        out.append(LocalNode(h.name, h, f"{scheme}://{cfg.listen_host}:{cfg.listen_port}",
                             ca_file=cfg.tls_ca if cfg.tls else None))
    return out


def start(node: LocalNode, extra_env: dict[str, str] | None = None,
          preexec: Callable[[], None] | None = None, argv: list[str] | None = None) -> None:
    """Start ``node``; ``preexec`` runs in the child before exec (e.g. to lower its limits),
    ``argv`` replaces the command (tests wrap it, e.g. in ``unshare``), ending in the usual one."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    log = open(node.log_file, "ab")  # noqa: SIM115 - handed to the child
    try:
        node.proc = subprocess.Popen(
            [*(argv or []), sys.executable, "-m", "cli.main", "node", "start", "--home", str(node.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - only resource limits, set by tests
            env=env,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
    finally:
        log.close()


def get_json(url: str, timeout: float = 2.0, context: ssl.SSLContext | None = None) -> Any:
    with urllib.request.urlopen(url, timeout=timeout, context=context) as r:  # noqa: S310
        return json.loads(r.read())


def get_text(url: str, timeout: float = 2.0, context: ssl.SSLContext | None = None) -> str:
    with urllib.request.urlopen(url, timeout=timeout, context=context) as r:  # noqa: S310
        return str(r.read().decode())


def status(node: LocalNode, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        doc = get_json(f"{node.url}/v1/status", timeout, node.ssl_context())
    except (OSError, urllib.error.URLError, ValueError, http.client.HTTPException):
        return None
    return doc if isinstance(doc, dict) else None


def wait_ready(nodes: list[LocalNode], timeout: float = 30.0) -> None:
    """Wait until every node answers /v1/status; raise naming the ones that do not."""
    deadline = time.monotonic() + timeout
    waiting = list(nodes)
    while waiting and time.monotonic() < deadline:
        for n in list(waiting):
            if n.proc is not None and n.proc.poll() is not None:
                raise RuntimeError(f"{n.name} exited with status {n.proc.returncode}; see {n.log_file}")
            if status(n, 1.0) is not None:
                waiting.remove(n)
        if waiting:
            time.sleep(0.1)
    if waiting:
        raise RuntimeError(f"not answering after {timeout:.0f} s: {', '.join(n.name for n in waiting)}")


def stop(node: LocalNode, timeout: float = 10.0) -> str:
    """SIGTERM, then SIGKILL after ``timeout``; returns what happened."""
    pid = node.pid()
    if pid is None:
        return "not running"
    how = "stopped"
    try:
        os.kill(pid, signal.SIGCONT)  # a paused node cannot handle SIGTERM
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(node)
        time.sleep(0.05)
    if pid_alive(pid):
        how = "killed"
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            _reap(node)
            time.sleep(0.02)
    _reap(node)
    if how == "killed":
        node.pid_file.unlink(missing_ok=True)
    return how


def kill9(node: LocalNode) -> None:
    """SIGKILL, and return only once the process is gone for good.

    A killed multi-threaded process shows as a zombie while its other threads
    (LevelDB's, a worker in an fsync) still exit; until they have, its pid is
    alive to ``kill(pid, 0)`` and a restart would be refused (NODE_ALREADY_RUNNING),
    so our own child is waited for in full.
    """
    pid = node.pid()
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        if node.proc is not None and node.proc.pid == pid:
            node.proc.wait(timeout=30)
        while pid_alive(pid):
            _reap(node)
            time.sleep(0.02)
        # the leader shows as a zombie while its other threads still exit; reap it (the
        # restarted node must not find this pid alive)
        deadline = time.monotonic() + 5
        while node.proc is not None and node.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)


def _reap(node: LocalNode) -> None:
    if node.proc is not None:
        node.proc.poll()
