"""``election.toml``: the human-written election manifest, parsed into ``ballot_tx.manifest.Manifest``.

Every error names the line and the field (``election.toml, line 12, contests[0].options[1].label.ja:
must not be empty``). ``tomllib`` gives a line only for syntax errors, so ``key_lines`` indexes
the text itself: each table header and each ``key =`` line, under the path of the table it is in
(``contests[1].options[0]``), and an error's field is looked up there, falling back to the
nearest enclosing table.

The format (examples/election.toml has a complete example)::

    name = "tsukuba-2026"                      # id: a-z 0-9 _ . -
    title = { ja = "つくば市 2026", en = "Tsukuba 2026" }
    eligibility = "registered-key"             # or "one-time-code", "city-login"
    # city-login only: the city's OpenID Connect provider (the secret stays in registrar.toml)
    # login_provider = { issuer = "https://login.city.example", client_id = "ballotchain" }
    start = 2026-06-01T08:00:00+09:00          # with a time zone
    end   = 2026-06-07T20:00:00+09:00
    revoting = true                            # default false
    max_ballots_per_voter = 20                 # ballots one voter may cast, re-votes included
    max_spoils_per_voter = 10                  # ballots one voter may spoil (audit); 0: none
    threshold = 2                              # trustees needed to decrypt

    [[trustees]]
    name = "Election commission"
    public_key = "trustees/commission.pub"     # from `ballotchain trustee keygen`
    # or: ed25519_public = "hex", x25519_public = "hex"

    [[contests]]
    id = "mayor"
    kind = "single"                            # single | multiple | rating
    title = { ja = "市長", en = "Mayor" }
    # multiple: min = 1, max = 3 (min defaults to 1); single and rating need neither
    # rating only, optional: what 0 and 100 mean (default "not at all" / "very highly")
    # scale_low = { ja = "まったく評価しない", en = "Not at all" }
    # scale_high = { ja = "とても高く評価する", en = "Very highly" }

    [[contests.options]]
    id = "sato"
    label = { ja = "佐藤 一郎", en = "Ichiro Sato" }
    image = { uri = "https://example.jp/sato.png", file = "img/sato.png" }  # or sha256 = "hex"
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.errors import ErrorCode, ManifestError
from ballot_tx.manifest import (
    CONTEST_KINDS,
    DEFAULT_MAX_BALLOTS,
    DEFAULT_MAX_SPOILS,
    MANIFEST_VERSION,
    Contest,
    Image,
    Label,
    Manifest,
    Option,
    TrusteeInfo,
    validate_manifest,
)
from ballot_tx.yomi import whole_reading, with_reading

#: Manifest field name -> the key a person writes in the TOML file.
TOML_NAMES = {"min_selections": "min", "max_selections": "max", "start_ms": "start",
              "end_ms": "end"}

ReadFile = Callable[[str], bytes]


# --- where is each key? -----------------------------------------------------------

_ARRAY_HEADER = re.compile(r"\[\[\s*([^\[\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*|"[^"]*"|'[^']*')\s*=""")


def _split_dotted(name: str) -> list[str]:
    return [p.strip().strip("\"'") for p in name.split(".")]


def key_lines(text: str) -> dict[str, int]:
    """Path (``contests[0].options[2].label``) -> the line where it is defined."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}  # array-of-tables path -> index of its last element

    def resolve(parts: list[str]) -> str:
        path = ""
        for p in parts:
            path = f"{path}.{p}" if path else p
            if path in counts:
                path = f"{path}[{counts[path]}]"
        return path

    prefix = ""
    in_string: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if not line or line.startswith("#"):
            continue
        m = _ARRAY_HEADER.match(line)
        if m:
            parts = _split_dotted(m.group(1))
            arr = resolve(parts[:-1])
            arr = f"{arr}.{parts[-1]}" if arr else parts[-1]
            counts[arr] = counts.get(arr, -1) + 1
            prefix = f"{arr}[{counts[arr]}]"
            lines.setdefault(prefix, lineno)
            continue
        m = _TABLE_HEADER.match(line)
        if m:
            prefix = resolve(_split_dotted(m.group(1)))
            lines.setdefault(prefix, lineno)
            continue
        m = _KEY.match(line)
        if m:
            key = ".".join(_split_dotted(m.group(1)))
            lines.setdefault(f"{prefix}.{key}" if prefix else key, lineno)
            rest = line[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return lines


def line_of(lines: dict[str, int], field: str) -> int | None:
    """The line of ``field`` or of the nearest enclosing key or table that is in the file."""
    path = ".".join(TOML_NAMES.get(p, p) for p in field.split("."))
    head, _, last = path.rpartition(".")
    if last in ("ed25519_public", "x25519_public") and f"{head}.public_key" in lines:
        return lines[f"{head}.public_key"]  # the keys came from the trustee's key file
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return None


# --- from TOML values to the manifest ------------------------------------------------

class _Fail(Exception):
    def __init__(self, code: ErrorCode, field: str, why: str) -> None:
        super().__init__(why)
        self.code, self.field, self.why = code, field, why


def _bad(field: str, why: str, code: ErrorCode = ErrorCode.MANIFEST_BAD_FIELD) -> _Fail:
    return _Fail(code, field, why)


def _table(doc: Any, field: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _bad(field, "must be a table")
    return doc


def _only(doc: dict[str, Any], field: str, allowed: set[str]) -> None:
    for k in doc:
        if k not in allowed:
            where = f"{field}.{k}" if field else k
            raise _bad(where, f"unknown key {k!r} (expected one of: {', '.join(sorted(allowed))})")


def _get(doc: dict[str, Any], key: str, field: str, kind: type, default: Any = ...) -> Any:
    where = f"{field}.{key}" if field else key
    if key not in doc:
        if default is ...:
            raise _bad(where, "is missing")
        return default
    value = doc[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
                 dict: "a table", datetime: "a date and time"}
        raise _bad(where, f"must be {names.get(kind, kind.__name__)}, not {value!r}")
    return value


def _hex32(value: Any, field: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise _bad(field, "must be 64 hexadecimal digits")
    return raw


def _label(doc: dict[str, Any], key: str, field: str) -> Label:
    where = f"{field}.{key}" if field else key
    t = _table(_get(doc, key, field, dict), where)
    _only(t, where, {"ja", "en", "yomi"})
    ja = _get(t, "ja", where, str)
    if "yomi" in t:
        # the reading rides in the label text as ruby (ballot_tx/yomi.py): no wire change
        try:
            ja = with_reading(ja, _get(t, "yomi", where, str))
        except ValueError as e:
            raise _bad(f"{where}.yomi", str(e)) from None
    return Label(ja, _get(t, "en", where, str))


def _ms(doc: dict[str, Any], key: str) -> int:
    d = _get(doc, key, "", datetime)
    if d.tzinfo is None:
        raise _bad(key, "needs a time zone, e.g. 2026-06-01T08:00:00+09:00",
                   ErrorCode.MANIFEST_BAD_TIMES)
    return int(d.timestamp() * 1000)


def _image(doc: dict[str, Any], field: str, read_file: ReadFile | None) -> Image | None:
    if "image" not in doc:
        return None
    where = f"{field}.image"
    t = _table(_get(doc, "image", field, dict), where)
    _only(t, where, {"uri", "sha256", "file"})
    uri = _get(t, "uri", where, str)
    if ("sha256" in t) == ("file" in t):
        raise _bad(where, "give exactly one of sha256 (hex) or file (to hash)")
    if "sha256" in t:
        return Image(_hex32(t["sha256"], f"{where}.sha256"), uri)
    path = _get(t, "file", where, str)
    if read_file is None:
        raise _bad(f"{where}.file", "image files cannot be read here; give sha256 instead")
    try:
        data = read_file(path)
    except OSError as e:
        raise _bad(f"{where}.file", f"cannot read {path}: {e.strerror or e}") from None
    return Image(hashlib.sha256(data).digest(), uri)


def _contest(doc: Any, field: str, read_file: ReadFile | None) -> Contest:
    c = _table(doc, field)
    _only(c, field, {"id", "kind", "title", "options", "min", "max", "scale_low", "scale_high"})
    kind = _get(c, "kind", field, str)
    if kind not in CONTEST_KINDS:
        raise _bad(f"{field}.kind", f"{kind!r} is not one of {', '.join(CONTEST_KINDS)}",
                   ErrorCode.MANIFEST_BAD_CONTEST)
    raw_options = _get(c, "options", field, list)
    options = []
    for j, o in enumerate(raw_options):
        of = f"{field}.options[{j}]"
        o = _table(o, of)
        _only(o, of, {"id", "label", "image"})
        options.append(Option(_get(o, "id", of, str), _label(o, "label", of),
                              _image(o, of, read_file)))
    n = len(options)
    if kind == "multiple":
        hi = _get(c, "max", field, int)
        lo = _get(c, "min", field, int, 1)
    else:
        for k in ("min", "max"):
            if k in c:
                raise _bad(f"{field}.{k}", f"a {kind} contest takes no {k}: "
                           + ("exactly one option is chosen" if kind == "single"
                              else "every item is rated"), ErrorCode.MANIFEST_BAD_CONTEST)
        lo = hi = n if kind == "rating" else 1
    for k, v in (("min", lo), ("max", hi)):
        if not 0 <= v < 2**16:
            raise _bad(f"{field}.{k}", f"{v} is out of range", ErrorCode.MANIFEST_BAD_CONTEST)
    # the ends of a rating scale; on another kind validate_manifest refuses them by field
    ends = [_label(c, k, field) if k in c else None for k in ("scale_low", "scale_high")]
    return Contest(_get(c, "id", field, str), kind, _label(c, "title", field), tuple(options),
                   lo, hi, *ends)


def _trustee(doc: Any, field: str, read_file: ReadFile | None) -> TrusteeInfo:
    t = _table(doc, field)
    _only(t, field, {"name", "public_key", "ed25519_public", "x25519_public"})
    name = _get(t, "name", field, str)
    if "public_key" in t:
        if "ed25519_public" in t or "x25519_public" in t:
            raise _bad(field, "give public_key (a file) or the two hex keys, not both")
        path = _get(t, "public_key", field, str)
        if read_file is None:
            raise _bad(f"{field}.public_key", "key files cannot be read here; give the hex keys")
        try:
            pub = json.loads(read_file(path))
            ed, x = pub["ed25519_public"], pub["x25519_public"]
        except OSError as e:
            raise _bad(f"{field}.public_key", f"cannot read {path}: {e.strerror or e}") from None
        except (ValueError, KeyError, TypeError):
            raise _bad(f"{field}.public_key",
                       f"{path} is not a Ballotchain public key file") from None
        return TrusteeInfo(name, _hex32(ed, f"{field}.public_key"),
                           _hex32(x, f"{field}.public_key"))
    return TrusteeInfo(name, _hex32(_get(t, "ed25519_public", field, str), f"{field}.ed25519_public"),
                       _hex32(_get(t, "x25519_public", field, str), f"{field}.x25519_public"))


def _build(doc: dict[str, Any], nonce: bytes, read_file: ReadFile | None) -> Manifest:
    _only(doc, "", {"version", "name", "title", "eligibility", "start", "end", "revoting",
                    "threshold", "trustees", "contests", "nonce", "max_ballots_per_voter",
                    "max_spoils_per_voter", "login_provider"})
    version = _get(doc, "version", "", int, MANIFEST_VERSION)
    if not 0 <= version < 2**16:
        raise _bad("version", f"{version} is not {MANIFEST_VERSION}", ErrorCode.MANIFEST_VERSION)
    trustees = tuple(_trustee(t, f"trustees[{i}]", read_file)
                     for i, t in enumerate(_get(doc, "trustees", "", list)))
    contests = tuple(_contest(c, f"contests[{i}]", read_file)
                     for i, c in enumerate(_get(doc, "contests", "", list)))
    threshold = _get(doc, "threshold", "", int)
    if not 0 <= threshold < 256:
        raise _bad("threshold", f"{threshold} is out of range", ErrorCode.MANIFEST_BAD_TRUSTEES)
    if "nonce" in doc:
        nonce = _hex32(doc["nonce"], "nonce")
    limits = {}
    for key, default in (("max_spoils_per_voter", DEFAULT_MAX_SPOILS),
                         ("max_ballots_per_voter", DEFAULT_MAX_BALLOTS)):
        limits[key] = _get(doc, key, "", int, default)
        if not 0 <= limits[key] < 2**16:
            raise _bad(key, f"{limits[key]} is out of range", ErrorCode.MANIFEST_BAD_FIELD)
    start, end = _ms(doc, "start"), _ms(doc, "end")
    if start < 0 or end < 0:
        raise _bad("start", "the voting period must be after 1970", ErrorCode.MANIFEST_BAD_TIMES)
    return Manifest(version, _get(doc, "name", "", str), _label(doc, "title", ""), contests,
                    _get(doc, "eligibility", "", str), start, end,
                    _get(doc, "revoting", "", bool, False), trustees, threshold, nonce, **limits,
                    login_provider=_login_provider(doc))


def _login_provider(doc: dict[str, Any]) -> LoginProvider | None:
    """``login_provider = { issuer, client_id }`` (city-login); checked by validate_manifest."""
    if "login_provider" not in doc:
        return None
    t = _table(doc["login_provider"], "login_provider")
    _only(t, "login_provider", {"issuer", "client_id"})
    return LoginProvider(_get(t, "issuer", "login_provider", str),
                         _get(t, "client_id", "login_provider", str))


def parse_manifest(text: str, nonce: bytes, read_file: ReadFile | None = None,
                   source: str = "election.toml") -> Manifest:
    """Parse and fully validate a TOML manifest; errors name ``source``, the line and the field.

    ``nonce`` (32 bytes) makes the election id unique unless the file sets ``nonce``;
    ``read_file`` reads image and trustee key files named in the manifest (relative paths).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(ErrorCode.MANIFEST_TOML_SYNTAX, f"{source}: {e}") from None
    lines = key_lines(text)
    try:
        m = _build(doc, nonce, read_file)
        try:
            validate_manifest(m)
        except ManifestError as e:
            field, _, why = e.message.partition(": ")
            raise _Fail(e.code, field, why) from None
    except _Fail as f:
        line = line_of(lines, f.field)
        where = f"{source}, line {line}" if line else source
        raise ManifestError(f.code, f"{where}, {display_field(f.field)}: {f.why}") from None
    return m


def display_field(field: str) -> str:
    """The field as the person wrote it (``contests[0].min`` rather than ``min_selections``)."""
    return ".".join(TOML_NAMES.get(p, p) for p in field.split("."))


# --- and back: a manifest as the TOML a person would write --------------------------

def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _lbl(lbl: Label) -> str:
    whole = whole_reading(lbl.ja)
    if whole is not None:
        return f"{{ ja = {_q(whole[0])}, yomi = {_q(whole[1])}, en = {_q(lbl.en)} }}"
    return f"{{ ja = {_q(lbl.ja)}, en = {_q(lbl.en)} }}"


def _time(ms: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def to_toml(m: Manifest) -> str:
    """``m`` as an election.toml that ``parse_manifest`` reads back to the same manifest."""
    out = [f"version = {m.version}", f"name = {_q(m.name)}", f"title = {_lbl(m.title)}",
           f"eligibility = {_q(m.eligibility)}", f"start = {_time(m.start_ms)}",
           f"end = {_time(m.end_ms)}", f"revoting = {'true' if m.revoting else 'false'}",
           f"max_ballots_per_voter = {m.max_ballots_per_voter}",
           f"max_spoils_per_voter = {m.max_spoils_per_voter}",
           f"threshold = {m.threshold}", f"nonce = {_q(m.nonce.hex())}"]
    if m.login_provider is not None:
        out.append(f"login_provider = {{ issuer = {_q(m.login_provider.issuer)}, "
                   f"client_id = {_q(m.login_provider.client_id)} }}")
    for t in m.trustees:
        out += ["", "[[trustees]]", f"name = {_q(t.name)}",
                f"ed25519_public = {_q(t.ed25519_public.hex())}",
                f"x25519_public = {_q(t.x25519_public.hex())}"]
    for c in m.contests:
        out += ["", "[[contests]]", f"id = {_q(c.id)}", f"kind = {_q(c.kind)}",
                f"title = {_lbl(c.title)}"]
        if c.kind == "multiple":
            out += [f"min = {c.min_selections}", f"max = {c.max_selections}"]
        for key, end in (("scale_low", c.scale_low), ("scale_high", c.scale_high)):
            if end is not None:
                out.append(f"{key} = {_lbl(end)}")
        for o in c.options:
            out += ["", "[[contests.options]]", f"id = {_q(o.id)}", f"label = {_lbl(o.label)}"]
            if o.image is not None:
                out.append(f"image = {{ uri = {_q(o.image.uri)}, "
                           f"sha256 = {_q(o.image.sha256.hex())} }}")
    return "\n".join(out) + "\n"
