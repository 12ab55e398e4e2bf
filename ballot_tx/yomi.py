"""Readings (yomi) of Japanese labels, carried inside the label text as ruby.

Place names are misread by speech engines (Open JTalk reads 洞峰公園 as ホラガミネ, not
どうほう). A manifest gives the reading with the Aozora Bunko ruby notation that Japanese
publishing uses: ``｜洞峰《どうほう》公園`` (the reading of the text after ``｜``), or
``洞峰《どうほう》公園`` (the reading of the kanji run just before ``《``). In
``election.toml`` a label may instead say ``yomi = "どうほうこうえん"``, stored as the
reading of the whole label (``｜洞峰公園《どうほうこうえん》``).

The notation lives in the label's text, so the manifest's wire format, and with it every
existing election id, is unchanged: old manifests are simply labels without readings. Only
well-formed notation counts (a reading of kana only); anything else is plain text.

* ``plain(text)``: what is shown (readings dropped; the page shows them as ``<ruby>``);
* ``spoken(text)``: what speech reads (each base replaced by its reading).
"""

from __future__ import annotations

import re

_KANA = r"[\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc\u30fd\u30fe\u3000 ・]+"
_KANJI = r"[\u3005\u3006\u3007\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
RUBY = re.compile(rf"｜(?P<base>[^｜《》]+)《(?P<r1>{_KANA})》|(?P<kanji>{_KANJI})《(?P<r2>{_KANA})》")


#: How each hex digit of a tracking code is read out in Japanese, letter by letter (Open
#: JTalk reads "3f2a" as a number with Latin letters in it).
HEX_READINGS_JA: dict[str, str] = dict(zip("0123456789abcdef", (
    "ゼロ", "イチ", "ニ", "サン", "ヨン", "ゴ", "ロク", "ナナ", "ハチ", "キュウ",
    "エー", "ビー", "シー", "ディー", "イー", "エフ"), strict=True))


def segments(text: str) -> list[tuple[str, str | None]]:
    """``text`` as (base, reading) pieces; plain pieces have reading None."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in RUBY.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], None))
        if m.group("base") is not None:
            out.append((m.group("base"), m.group("r1")))
        else:
            out.append((m.group("kanji"), m.group("r2")))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def plain(text: str) -> str:
    """The label as shown: readings dropped."""
    return "".join(base for base, _ in segments(text))


def spoken(text: str) -> str:
    """The label as read aloud: each base with a reading replaced by it."""
    return "".join(base if reading is None else reading for base, reading in segments(text))


def with_reading(text: str, reading: str) -> str:
    """A whole label with its reading (``election.toml``'s ``yomi``)."""
    if not re.fullmatch(_KANA, reading):
        raise ValueError("a reading (yomi) is written in hiragana or katakana only")
    if "｜" in text or "《" in text or "》" in text:
        raise ValueError("a label with a yomi must not contain ｜《》 itself")
    return f"｜{text}《{reading}》"


def whole_reading(text: str) -> tuple[str, str] | None:
    """(label, reading) if ``text`` is one label with one reading of all of it, else None."""
    parts = segments(text)
    if len(parts) == 1 and parts[0][1] is not None and text.startswith("｜"):
        return parts[0][0], parts[0][1]
    return None
