"""Voter-facing text in Japanese and English, through gettext.

The catalogs are the ``.po`` sources in ``cli/i18n/<lang>/LC_MESSAGES/ballotchain.po``
(what translators edit). They are compiled to the binary ``.mo`` format in memory
when first used (``compile_mo`` is the stdlib-only equivalent of ``msgfmt``) and
loaded by ``gettext.GNUTranslations``, so a fresh checkout needs no build step.

Code marks a message with ``_("...")`` (a literal, so the catalog test can find
it) and formats it afterwards: ``_("Ballot {n} of {total}").format(n=1, total=3)``.
"""

from __future__ import annotations

import gettext
import io
import os
import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

DOMAIN = "ballotchain"
LANGUAGES = ("ja", "en")

#: A click command function, typed through the option decorators.
F = TypeVar("F", bound=Callable[..., Any])
HERE = Path(__file__).parent


class PoError(ValueError):
    """A .po file that cannot be parsed (names the line)."""


def _unquote(s: str, path: str, lineno: int) -> str:
    s = s.strip()
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise PoError(f"{path}:{lineno}: expected a quoted string")
    out: list[str] = []
    body = s[1:-1]
    i = 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in escapes:
                raise PoError(f"{path}:{lineno}: bad escape in string")
            out.append(escapes[body[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_po(text: str, path: str = "<po>") -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy). Supports what our catalogs use: comments, the
    ``#, fuzzy`` flag, msgid/msgstr with continuation lines (no plurals, no contexts)."""
    entries: dict[str, tuple[str, bool]] = {}
    msgid: str | None = None
    msgstr: str | None = None
    field: str | None = None
    fuzzy = next_fuzzy = False

    def flush() -> None:
        nonlocal msgid, msgstr, field, fuzzy
        if msgid is not None:
            if msgstr is None:
                raise PoError(f"{path}: msgid {msgid!r} has no msgstr")
            if msgid in entries:
                raise PoError(f"{path}: msgid {msgid!r} appears twice")
            entries[msgid] = (msgstr, fuzzy)
        msgid = msgstr = field = None
        fuzzy = False

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                next_fuzzy = True
            continue
        if line.startswith("msgid "):
            flush()
            msgid, field, fuzzy, next_fuzzy = _unquote(line[6:], path, lineno), "id", next_fuzzy, False
        elif line.startswith("msgstr "):
            if msgid is None or field != "id":
                raise PoError(f"{path}:{lineno}: msgstr without msgid")
            msgstr, field = _unquote(line[7:], path, lineno), "str"
        elif line.startswith('"'):
            part = _unquote(line, path, lineno)
            if field == "id" and msgid is not None:
                msgid += part
            elif field == "str" and msgstr is not None:
                msgstr += part
            else:
                raise PoError(f"{path}:{lineno}: string outside an entry")
        else:
            raise PoError(f"{path}:{lineno}: unsupported line {line[:30]!r}")
    flush()
    return entries


def compile_mo(catalog: Mapping[str, str]) -> bytes:
    """The GNU .mo bytes for ``catalog`` (what ``msgfmt`` writes), UTF-8, no hash table."""
    items = sorted((k.encode(), v.encode()) for k, v in catalog.items())
    n = len(items)
    header = 7 * 4
    ids_table = header
    strs_table = ids_table + 8 * n
    data_start = strs_table + 8 * n
    ids_blob, strs_blob = b"", b""
    id_entries, str_entries = [], []
    for k, _v in items:
        id_entries.append((len(k), len(ids_blob)))
        ids_blob += k + b"\0"
    strs_start = data_start + len(ids_blob)
    for _, v in items:
        str_entries.append((len(v), strs_start + len(strs_blob)))
        strs_blob += v + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", ln, data_start + off) for ln, off in id_entries)
    out += b"".join(struct.pack("<2I", ln, off) for ln, off in str_entries)
    return out + ids_blob + strs_blob


def po_path(lang: str) -> Path:
    return HERE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog for ``lang``; fuzzy or empty entries are left out (fall back to English)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    entries = parse_po(po_path(lang).read_text(encoding="utf-8"), str(po_path(lang)))
    catalog = {k: v for k, (v, fuzzy) in entries.items() if v and not fuzzy}
    catalog[""] = "Content-Type: text/plain; charset=UTF-8\n"
    return gettext.GNUTranslations(io.BytesIO(compile_mo(catalog)))


def default_language(environ: Mapping[str, str] | None = None) -> str:
    """ja if the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG, as gettext reads them) is Japanese."""
    env = os.environ if environ is None else environ
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            first = value.split(":")[0]
            return "ja" if first.lower().startswith("ja") else "en"
    return "en"


_current = "en"


def set_language(lang: str) -> None:
    global _current
    translations(lang)  # fail early on an unknown language
    _current = lang


def language() -> str:
    return _current


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Messages in ``lang`` inside the block, then the language from before: a command's
    or a result table's language never outlives it (the process is left as it was found,
    so what runs next, a test or a second command, is not in another language)."""
    previous = _current
    set_language(lang)
    try:
        yield
    finally:
        set_language(previous)


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return translations(_current).gettext(message)


# --- click glue ---------------------------------------------------------------

def lang_option(f: F) -> F:
    """``--lang ja|en`` (default: from the locale), applied before the command runs."""
    import click

    def apply(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        lang = value or default_language()
        set_language(lang)
        return lang

    return click.option("--lang", type=click.Choice(LANGUAGES), callback=apply,
                        is_eager=True, expose_value=False,
                        help="Language of the messages (default: from the locale).")(f)


#: Error codes a voter can meet; their ``CODES`` descriptions are translated so a
#: voter's error line reads in the voter's language (the catalog test checks them).
VOTER_ERROR_CODES = (
    "ELIGIBILITY_MALFORMED", "ELIGIBILITY_WRONG_ELECTION", "ELIGIBILITY_WRONG_CA",
    "ELIGIBILITY_WRONG_KEY_USAGE", "ELIGIBILITY_CARD_NOT_YET_VALID",
    "ELIGIBILITY_CARD_EXPIRED", "ELIGIBILITY_CRL_INVALID", "ELIGIBILITY_CARD_REVOKED",
    "ELIGIBILITY_BAD_SIGNATURE", "KEY_FILE_UNREADABLE", "KEY_FILE_MALFORMED",
    "KEY_WRONG_PASSWORD", "KEY_FILE_EXISTS", "IO_ERROR", "USAGE",
    "VOTE_UNKNOWN_CONTEST", "VOTE_UNKNOWN_OPTION", "VOTE_BAD_COUNT", "VOTE_BAD_RATING",
    "VOTE_BAD_CHOICES", "CLI_NODE_UNREACHABLE", "CLI_NODE_BAD_RESPONSE",
    "ELIGIBILITY_BAD_CODE", "TX_CARD_TAG_USED", "TX_OUTSIDE_WINDOW", "TX_WRONG_PHASE",
    "TX_NOT_ELIGIBLE", "TX_CODE_USED", "VOTE_NOT_OPEN", "RECEIPT_NOT_FOUND",
    "RECEIPT_BAD_PROOF", "RECEIPT_BAD_CERTIFICATE", "RECEIPT_BAD_FORMAT", "RECEIPT_AMBIGUOUS",
    "RECEIPT_WRONG_CHAIN", "RECEIPT_NODES_DISAGREE",
)


def error_sentence(code: str, message: str) -> str:
    """The one-line error a person reads: in English the detailed message; in Japanese
    the code's translated meaning, with the (English) detail after it in brackets,
    since it names the option, date or file concerned."""
    if _current == "en" or code not in VOTER_ERROR_CODES:
        return message
    from ballot_tx.errors import CODES, ErrorCode

    generic = CODES[ErrorCode(code)]
    translated = translations(_current).gettext(generic)
    return f"{translated}（{message}）" if translated != generic else message
