"""Export the wire schema and the shared constants of the Python code for the browser client.

The browser must encode and decode exactly what ``ballot_tx.codec`` does. Rather
than restating every dataclass by hand in JavaScript (and drifting), this reads
the same annotations the Python codec compiles and writes them as data:
``web/src/schema.js``. The constants the page shares with the Python rules (the
voter's transaction lifetime, the signature kinds, election phases, contest kinds, rating
levels, manifest limits, key-file, voting-code and tracking-code formats, the hash domain
prefix) are read from their Python modules the same way and written to
``web/src/constants.js``.
``tests/web/test_schema.py`` fails when either committed file is not what this
script produces, so a change on the Python side cannot silently leave the browser
behind.

    python web/tools/gen_schema.py            # rewrite web/src/schema.js and constants.js
    python web/tools/gen_schema.py --check    # exit 1 if either is out of date

Type descriptors (JSON arrays): ``["int", lo, hi]`` (bounds as decimal strings,
they exceed 2^53), ``["bool"]``, ``["bytes", size, maxlen]``, ``["str", maxlen]``,
``["tuple", item, maxlen]``, ``["opt", inner]``, ``["obj", name]``,
``["union", [name, ...]]``; ``null`` where a constraint is absent.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

from ballot_tx.codec import INT_MAX, INT_MIN, MaxLen, Range, Size, Wire

#: The wire classes the browser handles, with everything they reference.
ROOTS = [
    "ballot_tx.manifest:Manifest",
    "ballot_tx.crypto.elgamal:Ciphertext",
    "ballot_tx.crypto.proofs:RangeProof",
    "ballot_tx.crypto.proofs:SchnorrProof",
    "ballot_tx.crypto.proofs:ChaumPedersenProof",
    "ballot_tx.crypto.ballot:EncryptedBallot",
    "ballot_tx.crypto.ballot:BallotSecrets",
    "ballot_tx.crypto.ballot:SpoiledBallot",
    "ballot_tx.tx:Tx",
    "ballot_tx.tx:TxPayload",
    "ballot_tx.state.records:ElectionStatus",
    "ballot_tx.block:InclusionProof",
    "consensus.certificate:CommitCertificate",
    "consensus.messages:Commit",
    "genesis.document:Genesis",
]

#: The constants the page shares with Python: JavaScript name, ``module:attribute``, and
#: why the page needs it (written as a comment above the constant).
CONSTANTS = [
    ("VOTER_TX_LIFETIME_MS", "ballot_tx.tx:VOTER_TX_LIFETIME_MS",
     "a ballot the page signs expires this long after signing"),
    ("TX_SIG_KIND", "ballot_tx.tx:SIG_KIND", "the signature kind of a transaction"),
    ("REGISTRAR_LOGIN_KIND", "node.registrar.login:FINISH_KIND",
     "the signature kind that finishes a city-login sign-in at the registrar"),
    ("PHASES", "ballot_tx.state.records:PHASE_NAMES", "election phases by number (ElectionStatus.phase)"),
    ("MANIFEST_VERSION", "ballot_tx.manifest:MANIFEST_VERSION", "the manifest version validated"),
    ("CONTEST_KINDS", "ballot_tx.manifest:CONTEST_KINDS", "contest kinds"),
    ("ELIGIBILITY_METHODS", "ballot_tx.manifest:ELIGIBILITY_METHODS", "eligibility methods"),
    ("RATING_LEVELS", "ballot_tx.manifest:RATING_LEVELS", "the ratings a rating contest offers"),
    ("RATING_STEP", "ballot_tx.manifest:RATING_STEP", "the step between two rating levels"),
    ("MAX_BALLOT_CIPHERTEXTS", "ballot_tx.manifest:MAX_BALLOT_CIPHERTEXTS",
     "the most ciphertexts a ballot may hold"),
    ("LABEL_MAX", "ballot_tx.manifest:LABEL_MAX", "the longest label (characters)"),
    ("MAX_PER_VOTER", "ballot_tx.manifest:MAX_PER_VOTER", "the most ballots or spoils per voter"),
    ("DOMAIN_PREFIX", "ballot_tx.codec:DOMAIN_PREFIX", "the prefix of every hash and signature domain"),
    ("DEFAULT_MAX_SIZE", "ballot_tx.codec:DEFAULT_MAX_SIZE", "the largest encoding decoded"),
    ("PLAIN_MAX_DEPTH", "ballot_tx.codec:PLAIN_MAX_DEPTH", "the deepest nesting of a plain value"),
    ("KEY_FILE_TYPE", "ballot_tx.keys:KEY_FILE_TYPE", "the type a key file declares"),
    ("KEY_FILE_VERSION", "ballot_tx.keys:KEY_FILE_VERSION", "the key-file version read and written"),
    ("CODE_ALPHABET", "ballot_tx.eligibility.one_time_code:ALPHABET",
     "the letters of a mailed voting code"),
    ("CODE_LEN", "ballot_tx.eligibility.one_time_code:CODE_LEN",
     "the characters of a voting code, check letter included"),
    ("SHORT_LEN", "node.ballotbox:SHORT_LEN", "the hex digits of a tracking code's short form"),
    ("ISSUER_MAX", "ballot_tx.eligibility.city_login:ISSUER_MAX",
     "the longest city-login issuer (characters)"),
    ("CLIENT_ID_MAX", "ballot_tx.eligibility.city_login:CLIENT_ID_MAX",
     "the longest city-login client id (characters)"),
    ("LOOPBACK_HOSTS", "ballot_tx.eligibility.city_login:LOOPBACK_HOSTS",
     "the hosts an http (not https) issuer may name"),
]

SRC = Path(__file__).resolve().parents[1] / "src"
OUT = SRC / "schema.js"
CONSTANTS_OUT = SRC / "constants.js"


def describe(tp: Any, todo: list[type]) -> Any:
    """The JSON descriptor of one annotation; referenced classes are queued in ``todo``."""
    constraints: tuple[Any, ...] = ()
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, constraints = args[0], tuple(args[1:])
    size = next((c.n for c in constraints if isinstance(c, Size)), None)
    maxlen = next((c.n for c in constraints if isinstance(c, MaxLen)), None)
    rng = next((c for c in constraints if isinstance(c, Range)), None)
    origin = typing.get_origin(tp)
    if tp is bool:
        return ["bool"]
    if tp is int:
        lo, hi = (rng.lo, rng.hi) if rng else (INT_MIN, INT_MAX)
        return ["int", str(lo), str(hi)]
    if tp is bytes:
        return ["bytes", size, maxlen]
    if tp is str:
        return ["str", maxlen]
    if origin is tuple:
        return ["tuple", describe(typing.get_args(tp)[0], todo), maxlen]
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(tp)
        if type(None) in members:
            rest = tuple(m for m in members if m is not type(None))
            inner = rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007
            return ["opt", describe(inner, todo)]
        todo.extend(members)
        return ["union", [m.__name__ for m in members]]
    if isinstance(tp, type) and issubclass(tp, Wire):
        todo.append(tp)
        return ["obj", tp.__name__]
    raise TypeError(f"unsupported wire field type {tp!r}")


def schema_of(roots: list[type]) -> dict[str, Any]:
    """All classes reachable from ``roots``: kind, max size, tag and typed fields."""
    classes: dict[str, Any] = {}
    seen: dict[str, type] = {}
    todo = list(roots)
    while todo:
        cls = todo.pop(0)
        name = cls.__name__
        if name in seen:
            if seen[name] is not cls:
                raise TypeError(f"two wire classes are named {name}")
            continue
        seen[name] = cls
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = [
            [f.name, describe(hints[f.name], todo)]
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.init
        ]
        classes[name] = {
            "kind": cls.KIND,
            "max_size": cls.MAX_SIZE,
            "tag": cls.TAG,
            "fields": fields,
        }
    return {"classes": dict(sorted(classes.items()))}


def load_roots(names: list[str]) -> list[type]:
    out = []
    for spec in names:
        mod, _, attr = spec.partition(":")
        out.append(getattr(importlib.import_module(mod), attr))
    return out


def render() -> str:
    classes = schema_of(load_roots(ROOTS))["classes"]
    lines = ["// GENERATED by web/tools/gen_schema.py from the Python wire classes. Do not edit."]
    lines.append("export const SCHEMA = {")
    lines.append(' "classes": {')
    for i, (name, c) in enumerate(classes.items()):
        head = {k: c[k] for k in ("kind", "max_size", "tag")}
        lines.append(f"  {json.dumps(name)}: {json.dumps(head)[:-1]}, \"fields\": [")
        for j, f in enumerate(c["fields"]):
            comma = "," if j < len(c["fields"]) - 1 else ""
            lines.append(f"   {json.dumps(f, separators=(',', ':'))}{comma}")
        lines.append("  ]}" + ("," if i < len(classes) - 1 else ""))
    lines.append(" }")
    lines.append("};")
    return "\n".join(lines) + "\n"


def js_value(v: Any) -> Any:
    """A constant as JSON: tuples as arrays, bytes as text, a name table as a list by number."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, dict):
        keys = sorted(v)
        if [int(k) for k in keys] != list(range(len(keys))):
            raise TypeError("a constant table must be numbered 0, 1, ...")
        return [v[k] for k in keys]
    if isinstance(v, (tuple, list)):
        return [js_value(x) for x in v]
    if isinstance(v, (int, str)) and not isinstance(v, bool):
        if isinstance(v, int) and abs(v) > 2**53:
            raise TypeError("a constant beyond 2^53 is not a JavaScript number")
        return v
    raise TypeError(f"unsupported constant {v!r}")


def render_constants() -> str:
    lines = ["// GENERATED by web/tools/gen_schema.py from the Python constants. Do not edit."]
    for name, spec, why in CONSTANTS:
        mod, _, attr = spec.partition(":")
        value = js_value(getattr(importlib.import_module(mod), attr))
        lines.append(f"// {why}: {mod}.{attr}")
        lines.append(f"export const {name} = {json.dumps(value, ensure_ascii=False)};")
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file with the text it must hold."""
    return {OUT: render(), CONSTANTS_OUT: render_constants()}


def main() -> int:
    files = outputs()
    if "--check" in sys.argv:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for p in stale:
            print(f"{p} is out of date: run python web/tools/gen_schema.py", file=sys.stderr)
        return 1 if stale else 0
    for p, text in files.items():
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
