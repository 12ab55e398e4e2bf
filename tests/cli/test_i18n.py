"""Every voter-facing message exists in Japanese and English; the catalog machinery works."""

from __future__ import annotations

import gettext
import io
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli import i18n
from cli.i18n import LANGUAGES, PoError, compile_mo, default_language, parse_po, po_path
from cli.i18n.extract import NonLiteralMessage, messages_in, missing, used_messages


def catalog(lang: str) -> dict[str, tuple[str, bool]]:
    return parse_po(po_path(lang).read_text(encoding="utf-8"), str(po_path(lang)))


def test_no_voter_message_is_missing_in_either_language() -> None:
    assert len(used_messages()) > 20  # the scan really finds the CLI's messages
    assert missing() == {lang: [] for lang in LANGUAGES}


def test_no_stale_entries() -> None:
    used = used_messages()
    for lang in LANGUAGES:
        stale = [m for m in catalog(lang) if m and m not in used]
        assert stale == [], f"{lang}: entries no longer used in code: {stale}"


def fields(s: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(s) if name is not None}


def test_placeholders_agree_and_japanese_is_japanese() -> None:
    ja, en = catalog("ja"), catalog("en")
    for msgid in used_messages():
        assert fields(ja[msgid][0]) == fields(msgid), msgid
        assert fields(en[msgid][0]) == fields(msgid), msgid
        # A translation is really Japanese (kana or kanji), not the English copied over
        # (unless the message has no words, like "{contest}: {choice}").
        words = re.sub(r"\{[^}]*\}", "", msgid)
        assert not re.search("[A-Za-z]{2,}", words) or any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in ja[msgid][0]), msgid
        # Polite register: no plain-form commands like 「しろ」「するな」.
        assert not ja[msgid][0].endswith(("しろ。", "するな。", "せよ。")), msgid


def test_translation_is_used() -> None:
    i18n.set_language("ja")
    try:
        assert i18n._("Error: {message}") == "エラー: {message}"
    finally:
        i18n.set_language("en")
    assert i18n._("Error: {message}") == "Error: {message}"
    assert i18n._("a message nobody translated") == "a message nobody translated"


@pytest.mark.parametrize("env,lang", [
    ({"LANG": "ja_JP.UTF-8"}, "ja"), ({"LANG": "en_US.UTF-8"}, "en"), ({}, "en"),
    ({"LANGUAGE": "ja:en", "LANG": "C"}, "ja"), ({"LC_ALL": "C", "LANG": "ja_JP"}, "en"),
    ({"LC_MESSAGES": "ja_JP.eucJP"}, "ja"),
])
def test_default_language_from_locale(env: dict[str, str], lang: str) -> None:
    assert default_language(env) == lang


# NUL separates plural forms and \x04 contexts in the .mo format: never in our messages.
MO_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00\x04",
                                         blacklist_categories=("Cs",)), max_size=30)


@given(st.dictionaries(MO_TEXT.filter(bool), MO_TEXT, max_size=20))
def test_compiled_mo_is_read_back_by_stdlib_gettext(cat: dict[str, str]) -> None:
    full = dict(cat, **{"": "Content-Type: text/plain; charset=UTF-8\n"})
    t = gettext.GNUTranslations(io.BytesIO(compile_mo(full)))
    for k, v in cat.items():
        assert t.gettext(k) == v


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_po_quoting_roundtrips(s: str) -> None:
    from cli.i18n.extract import po_quote

    text = f'msgid {po_quote("k")}\nmsgstr {po_quote(s)}\n'
    if "\r" in s or "\x0b" in s or "\x0c" in s or "\x1c" in s or "\x1d" in s or "\x1e" in s \
            or "\x85" in s or "\u2028" in s or "\u2029" in s:
        return  # line separators are not allowed inside a .po line
    assert parse_po(text)["k"] == (s, False)


def test_bad_po_names_the_line() -> None:
    with pytest.raises(PoError, match=":3:"):
        parse_po('msgid "a"\nmsgstr "b"\nmsgstr "c"\n', "x.po")
    with pytest.raises(PoError, match="twice"):
        parse_po('msgid "a"\nmsgstr "b"\nmsgid "a"\nmsgstr "c"\n')
    assert parse_po('#, fuzzy\nmsgid "a"\nmsgstr "b"\n')["a"] == ("b", True)


def test_extractor_refuses_non_literal_messages() -> None:
    assert messages_in('_("hi")\n_("hi")\n', "m.py") == {"hi": ["m.py:1", "m.py:2"]}
    with pytest.raises(NonLiteralMessage):
        messages_in("_(name)\n", "m.py")


def test_a_commands_language_ends_with_the_command() -> None:
    """``--lang ja`` is one command's language, error line included, not the process's: a
    test run after it in the same process reads English (this leak failed test_speech's
    English message whenever it ran after the rest of tests/cli), and a caller that chose
    Japanese itself gets Japanese back."""
    from click.testing import CliRunner

    from cli.main import cli

    bad_code = ["receipt", "verify", "not-a-code", "--chain", "0" * 16, "--node", "http://127.0.0.1:9"]
    r = CliRunner().invoke(cli, [*bad_code, "--lang", "ja"])
    assert r.exit_code == 1 and r.output.startswith("エラー: [RECEIPT_BAD_FORMAT] これは追跡コードではありません"), r.output
    assert i18n.language() == "en" and i18n._("Error: {message}") == "Error: {message}"
    i18n.set_language("ja")
    try:
        r = CliRunner().invoke(cli, [*bad_code, "--lang", "en"])
        assert r.output.startswith("Error: [RECEIPT_BAD_FORMAT] This is not a tracking code"), r.output
        assert i18n.language() == "ja"
    finally:
        i18n.set_language("en")
