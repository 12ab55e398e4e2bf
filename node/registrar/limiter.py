"""Who a request comes from, and whether that client may spend work now.

``/v1/login/start``, ``/v1/login/callback``, ``/v1/login/finish`` and ``/v1/register/card``
(each creates state or costs a provider round trip, a signature or a certificate check)
take a token from the client's bucket first (``[limits]``); an empty bucket is
``API_RATE_LIMITED`` with 429 and ``Retry-After``, before any work. The client is the
connection's address (an IPv6 address's /64, which one subscriber usually holds whole),
or, when the connection comes from a ``trusted_proxies`` address, the nearest
``X-Forwarded-For`` hop that is not a trusted proxy. The table of buckets is bounded
(``max_clients``, least recently seen forgotten), so a flood of addresses cannot grow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

from node.rate_limit import TokenBuckets
from node.registrar.config import LimitsConfig


class ClientLimiter:
    """The per-client token buckets of the unauthenticated routes (see the module docstring)."""

    def __init__(self, cfg: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.buckets = TokenBuckets(cfg.rate_per_minute / 60.0, clock, burst=float(cfg.burst),
                                    max_clients=cfg.max_clients)
        self.trusted: tuple[IPv4Network | IPv6Network, ...] = cfg.trusted_proxies
        self.retry_after_s = max(1, int(60 / cfg.rate_per_minute + 0.999))

    def _is_trusted(self, addr: str) -> bool:
        try:
            ip = ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    @staticmethod
    def _key(addr: str) -> str:
        """The bucket of an address: itself, or for IPv6 its /64."""
        try:
            ip = ip_address(addr.strip())
        except ValueError:
            return addr[:64]
        if isinstance(ip, IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(IPv6Network((ip, 64), strict=False))
        return str(ip)

    def client(self, remote: str | None, forwarded_for: str | None) -> str:
        """Who sent a request: ``remote``, or the nearest untrusted X-Forwarded-For hop
        when ``remote`` is a trusted proxy (hops left of it were written by the client)."""
        addr = remote or "unknown"
        if forwarded_for is not None and self._is_trusted(addr):
            hops = [h for h in forwarded_for.split(",")[-32:] if h.strip()]
            while hops and self._is_trusted(hops[-1]):
                hops.pop()
            if hops:
                try:
                    addr = str(ip_address(hops[-1].strip()))
                except ValueError:
                    pass  # the proxy wrote something that is not an address: count the proxy
        return self._key(addr)

    def allow(self, client: str) -> bool:
        return self.buckets.allow(client)
