"""A city-login sign-in between its steps: pending at the provider, then verified and
waiting for the key holder's signature.

The second step exists against login CSRF: without it, an attacker could start a sign-in
with their own key and get a victim to complete it, and the victim's identity would
register the attacker's key. The one-time finish token reaches only the browser that
came back from the provider, and only the key's holder can sign ``finish_message``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Signature kind of the proof that the browser finishing a sign-in holds the voter key.
FINISH_KIND = "registrar-login"


@dataclass
class PendingLogin:
    eid: bytes
    voter_public: bytes
    nonce: str
    verifier: str
    return_to: str | None
    expires: float


@dataclass
class VerifiedLogin:
    """A sign-in whose ID token passed: waits for the key holder's signature."""

    eid: bytes
    voter_public: bytes
    tag: bytes
    expires: float


def finish_message(eid: bytes, token: str) -> bytes:
    """What the voter key signs (kind ``registrar-login``) to finish a sign-in."""
    return eid + token.encode()
