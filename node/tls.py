"""TLS contexts for the node's HTTP: the one for dialling peers and the one for serving.

Both sides of the peer API and the client API use them; they are configuration of
the standard library's ``ssl``, nothing of the peer protocol, so they stand alone.
"""

from __future__ import annotations

import ssl


def client_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """TLS context for dialling peers: the configured CA (or the system roots)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx
