"""A loopback TCP proxy that forwards, refuses or black-holes peer connections.

Fault tests and ``scripts/soak`` route a node's peer links through these (``network.peers``
as ``NODE_ID@127.0.0.1:PROXY_PORT``) to cut a validator off without touching its process:
``refuse`` closes each connection at once, ``blackhole`` accepts and never answers, and a
mode change also cuts the connections already open, so every link meets the new mode.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

MODES = ("open", "refuse", "blackhole")


class Proxy:
    """``src`` node -> ``dst`` validator, listening on ``port``, forwarding to ``target``."""

    def __init__(self, src: int, dst: int, port: int, target: int) -> None:
        self.src, self.dst, self.port, self.target = src, dst, port, target
        self.mode = "open"
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    def set(self, mode: str) -> None:
        """Switch mode (call on the proxy's loop); open connections are cut."""
        if mode not in MODES:
            raise ValueError(f"proxy mode {mode!r} is not one of {MODES}")
        self.mode = mode
        for w in list(self.writers):
            w.close()
        self.writers.clear()

    def close(self) -> None:
        """Stop listening and cut every connection (call on the proxy's loop)."""
        self.set("refuse")
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.close()
            return
        self.writers.add(writer)
        try:
            if self.mode == "blackhole":
                while await reader.read(65536):
                    pass
                return
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
            self.writers.add(upstream_writer)

            async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
                with contextlib.suppress(OSError, ConnectionError):
                    while data := await source.read(65536):
                        sink.write(data)
                        await sink.drain()
                sink.close()

            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        except (OSError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


def set_peers(config: Path, peers: list[str]) -> None:
    """Rewrite the ``peers = [...]`` line of a node's config.toml (entries already quoted)."""
    text = config.read_text()
    start = text.index("peers = [")
    end = text.index("]\n", start) + 2
    config.write_text(text[:start] + f"peers = [{', '.join(peers)}]\n" + text[end:])
