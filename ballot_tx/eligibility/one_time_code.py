"""``one-time-code``: mailed voting codes, each good for one ballot, safe against front-running.

A code never travels on chain. The voter's client derives an Ed25519 key from it::

    seed = hash_bytes("otc-seed", election_id || salt || normalized code)

and the registrar commits the derived *public* keys (in effect salted hashes of
the codes) in ``CommitCodes``. A ballot cast with a code is signed by the code's
key, so someone who sees the public key or the ballot in a mempool cannot cast
with that code: they would need the code to sign. The first ballot signed by a
code key consumes the code (no re-vote with codes).

Codes are printed for people: 16 symbols of Crockford's base-32 alphabet (no
I, L, O, U, so nothing is confused with 1, 0 or V), 15 random (75 bits) and one
Luhn mod 32 check symbol, which catches every single mistyped symbol and every
swap of two adjacent symbols before anything is signed. ``normalize`` accepts
what a person types: lower case, spaces, dashes, full-width characters from a
Japanese input method, and O/I/L for 0/1/1.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import Bytes32, MaxLen, Wire, hash_bytes
from ballot_tx.eligibility.base import NewVoter, RegistrationPlan, check_voter_key
from ballot_tx.errors import EligibilityError, ErrorCode, TxError
from ballot_tx.keys import KeyPair

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
N = len(ALPHABET)
PAYLOAD_LEN = 15
CODE_LEN = PAYLOAD_LEN + 1
GROUP = 4
MAX_BATCH = 1000
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = set(" -_.\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u3000\t")


class CodeError(EligibilityError):
    """A typed code that cannot be a voting code (wrong length, symbol or check symbol)."""


@dataclass(frozen=True)
class CommitCodes(Wire):
    """Registrar: make the keys derived from these codes eligible (one ballot each)."""

    TAG = 7
    election_id: Bytes32
    salt: Bytes32
    code_keys: Annotated[tuple[Bytes32, ...], MaxLen(MAX_BATCH)]


def check_symbol(payload: str) -> str:
    """Luhn mod N over the alphabet (ISO/IEC 7812 generalised to base 32)."""
    total, factor = 0, 2
    for ch in reversed(payload):
        addend = factor * _INDEX[ch]
        total += addend // N + addend % N
        factor = 3 - factor
    return ALPHABET[(N - total % N) % N]


def normalize(typed: str) -> str:
    """The canonical 16-symbol code for what a person typed, or ``CodeError`` saying why not."""
    text = unicodedata.normalize("NFKC", typed).upper()
    out = []
    for ch in text:
        if ch in _SEPARATORS:
            continue
        ch = _ALIASES.get(ch, ch)
        if ch not in _INDEX:
            raise CodeError(ErrorCode.ELIGIBILITY_BAD_CODE, f"{ch!r} cannot appear in a voting code")
        out.append(ch)
    code = "".join(out)
    if len(code) != CODE_LEN:
        raise CodeError(
            ErrorCode.ELIGIBILITY_BAD_CODE,
            f"a voting code has {CODE_LEN} characters, this one has {len(code)}",
        )
    if check_symbol(code[:-1]) != code[-1]:
        raise CodeError(ErrorCode.ELIGIBILITY_BAD_CODE, "the code is mistyped (its check character does not match)")
    return code


def format_code(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS``: groups of four for printing."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def generate_code() -> str:
    """A fresh random code (``secrets``), normalised, with its check symbol."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD_LEN))
    return payload + check_symbol(payload)


def code_from_seed(seed: bytes, i: int) -> str:
    """A deterministic code (tests and demos only: real codes use ``generate_code``)."""
    h = hash_bytes("otc-test-code", seed + i.to_bytes(4, "big"))
    v = int.from_bytes(h, "big")
    payload = "".join(ALPHABET[(v >> (5 * k)) & 31] for k in range(PAYLOAD_LEN))
    return payload + check_symbol(payload)


def code_seed(election_id: bytes, salt: bytes, code: str) -> bytes:
    return hash_bytes("otc-seed", election_id + salt + normalize(code).encode())


def code_keys(election_id: bytes, salt: bytes, code: str) -> KeyPair:
    """The voter key a code stands for (derived on the voter's device)."""
    return KeyPair.from_seed(code_seed(election_id, salt, code))


def code_public_key(election_id: bytes, salt: bytes, code: str) -> bytes:
    """What the registrar commits for a code."""
    return code_keys(election_id, salt, code).ed25519_public


class OneTimeCode:
    name = "one-time-code"
    registration: type[Wire] = CommitCodes

    def plan(self, body: Wire) -> RegistrationPlan:
        assert isinstance(body, CommitCodes)
        if not body.code_keys:
            raise TxError(ErrorCode.TX_TOO_MANY_ENTRIES, "a code batch must not be empty")
        for i, k in enumerate(body.code_keys):
            check_voter_key(k, f"code_keys[{i}]")
        return RegistrationPlan(
            tuple(NewVoter(k, single_use=True) for k in body.code_keys), code_salt=body.salt
        )
