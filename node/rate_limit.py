"""Per-client rate limiting: token buckets in a bounded table of clients.

Each client has a bucket of ``rate`` tokens per second (burst ``2 * rate`` unless
given); a request takes one token or is refused. The table of clients is bounded
(least recently seen evicted), so spoofed or many clients cannot grow it without
limit. Its own module because two services share it: the node's mempool (a client's
transactions) and the registrar (``node.registrar.limiter``: its unauthenticated
routes); neither owns the other's limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS_TRACKED = 10_000


class TokenBuckets:
    """Per-client token buckets: ``rate`` tokens per second, burst of ``2 * rate`` (or
    ``burst``); at most ``max_clients`` clients remembered, least recently seen forgotten."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 burst: float | None = None, max_clients: int = MAX_CLIENTS_TRACKED) -> None:
        self.rate = rate
        self.burst = 2 * rate if burst is None else burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str) -> bool:
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if ok else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return ok
