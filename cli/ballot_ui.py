"""The voter's ballot on a terminal: show each contest, ask, summarise, confirm.

Two looks, one flow:

* default: headings with rules, numbered options indented, the summary as a list;
* ``--plain`` (screen readers): no colour, no box drawing, no tables; one fact a
  line, every option numbered in words ("Option 2: ...").

Every line the voter sees can also be spoken (``cli.speech.Speaker``). Choices come
either from the keyboard (typed as a person would: full-width digits from a
Japanese input method, "1、3" or "1, 3") or from ``--choices`` for scripts::

    project=health; parks=doho,central; pledges=childcare:70,transport:100

Wrong keyboard input is asked again with a hint; wrong ``--choices`` is an error
with a stable code (VOTE_UNKNOWN_OPTION, VOTE_BAD_RATING, ...), before anything
is encrypted or sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.manifest import RATING_LEVELS, Contest, Label, Manifest, Selections, scale_ends
from ballot_tx.yomi import plain
from cli.i18n import _, language
from cli.speech import Speaker

#: A click command function, typed through the option decorators.
F = TypeVar("F", bound=Callable[..., Any])


class ChoiceError(BallotchainError):
    """Choices that are not a valid vote on this ballot."""


def text(label: Label) -> str:
    """A label in the voter's language, with its reading markup (ballot_tx/yomi.py) kept:
    ``Screen`` shows it without and speaks the reading."""
    return label.ja if language() == "ja" else label.en


def normalize(typed: str) -> str:
    """What a person typed, with full-width digits and punctuation made ASCII."""
    return unicodedata.normalize("NFKC", typed).strip()


def scale_sentence(c: Contest) -> str:
    """What 0 and 100 mean on a rating contest: the manifest's labels or the defaults
    (readings kept, so speech says them)."""
    low, high = scale_ends(c)
    return _("0 means “{low}”, 100 means “{high}”.").format(low=text(low), high=text(high))


def instructions(c: Contest) -> str:
    if c.kind == "single":
        return _("Choose one option.")
    if c.kind == "rating":  # the ends of the scale said, as on the page
        return _("Rate each item from 0 to 100 in steps of 10.") + " " + scale_sentence(c)
    if c.min_selections == c.max_selections:
        return _("Choose exactly {n} options.").format(n=c.max_selections)
    if c.min_selections == 0:
        return _("Choose up to {max} options, or none.").format(max=c.max_selections)
    return _("Choose from {min} to {max} options.").format(min=c.min_selections,
                                                           max=c.max_selections)


def describe_choice(c: Contest, sel: tuple[int, ...]) -> str:
    """One contest's choice in words, for the summary (and the spoiled-ballot check)."""
    sep = _(", ")
    if c.kind == "rating":
        return sep.join(_("{item} {rating}").format(item=text(o.label), rating=v)
                        for o, v in zip(c.options, sel, strict=True))
    chosen = [text(o.label) for o, v in zip(c.options, sel, strict=True) if v]
    return sep.join(chosen) if chosen else _("(none)")


# --- --choices -------------------------------------------------------------------

def _fail(code: ErrorCode, message: str) -> ChoiceError:
    return ChoiceError(code, message)


def parse_rating(value: str, item: str) -> int:
    v = normalize(value)
    if not v.isdigit() or int(v) not in RATING_LEVELS:
        raise _fail(ErrorCode.VOTE_BAD_RATING,
                    f"{value!r} is not a rating for {item!r}: use 0, 10, 20, ..., 100")
    return int(v)


def check_count(c: Contest, k: int) -> None:
    if not c.min_selections <= k <= c.max_selections:
        raise _fail(ErrorCode.VOTE_BAD_COUNT,
                    f"contest {c.id!r} takes {c.min_selections} to {c.max_selections} "
                    f"choices, not {k}")


def parse_choices(m: Manifest, spec: str) -> Selections:
    """``contest=option,...;...`` (ratings ``item:70``) -> selections; every contest needed."""
    given: dict[str, str] = {}
    for part in normalize(spec).split(";"):
        if not part.strip():
            continue
        cid, eq, rest = part.partition("=")
        if not eq:
            raise _fail(ErrorCode.VOTE_BAD_CHOICES,
                        f"{part.strip()!r} is not contest=option (e.g. mayor=sato)")
        cid = cid.strip()
        if cid in given:
            raise _fail(ErrorCode.VOTE_BAD_CHOICES, f"contest {cid!r} is given twice")
        given[cid] = rest
    by_id = {c.id: c for c in m.contests}
    for cid in given:
        if cid not in by_id:
            raise _fail(ErrorCode.VOTE_UNKNOWN_CONTEST,
                        f"there is no contest {cid!r} (contests: {', '.join(by_id)})")
    out = []
    for c in m.contests:
        if c.id not in given:
            raise _fail(ErrorCode.VOTE_BAD_CHOICES, f"contest {c.id!r} has no choice")
        ids = [o.id for o in c.options]
        items = [x.strip() for x in given[c.id].split(",") if x.strip()]
        if c.kind == "rating":
            ratings: dict[str, int] = {}
            for item in items:
                oid, colon, value = item.partition(":")
                oid = oid.strip()
                if oid not in ids:
                    raise _fail(ErrorCode.VOTE_UNKNOWN_OPTION,
                                f"contest {c.id!r} has no item {oid!r} (items: {', '.join(ids)})")
                if not colon:
                    raise _fail(ErrorCode.VOTE_BAD_RATING, f"item {oid!r} needs a rating: {oid}:70")
                ratings[oid] = parse_rating(value, oid)
            missing = [i for i in ids if i not in ratings]
            if missing:
                raise _fail(ErrorCode.VOTE_BAD_RATING,
                            f"contest {c.id!r}: rate every item; missing {', '.join(missing)}")
            out.append(tuple(ratings[i] for i in ids))
            continue
        for oid in items:
            if oid not in ids:
                raise _fail(ErrorCode.VOTE_UNKNOWN_OPTION,
                            f"contest {c.id!r} has no option {oid!r} (options: {', '.join(ids)})")
        if len(set(items)) != len(items):
            raise _fail(ErrorCode.VOTE_BAD_COUNT, f"contest {c.id!r}: an option is chosen twice")
        check_count(c, len(items))
        out.append(tuple(1 if i in items else 0 for i in ids))
    return tuple(out)


def format_choices(m: Manifest, sel: Selections) -> str:
    """The ``--choices`` text for ``sel`` (the inverse of ``parse_choices``)."""
    parts = []
    for c, s in zip(m.contests, sel, strict=True):
        if c.kind == "rating":
            parts.append(f"{c.id}=" + ",".join(f"{o.id}:{v}" for o, v in
                                               zip(c.options, s, strict=True)))
        else:
            parts.append(f"{c.id}=" + ",".join(o.id for o, v in zip(c.options, s, strict=True)
                                               if v))
    return ";".join(parts)


# --- the interactive ballot ----------------------------------------------------------

Ask = Callable[[str], str]


def _prompt(question: str) -> str:
    return str(click.prompt(question, prompt_suffix=": ", default="", show_default=False))


@dataclass
class Screen:
    """Where the ballot is shown (and spoken): rich or plain."""

    plain: bool
    speaker: Speaker
    ask_fn: Ask = _prompt

    def say(self, line: str, style: dict[str, Any] | None = None,
            spoken: str | None = None) -> None:
        """Show ``line``; speak it (or ``spoken``, where the screen text does not read well)."""
        shown = plain(line)
        click.echo(click.style(shown, **style) if style and not self.plain else shown)
        self.speaker.say(line if spoken is None else spoken)

    def say_code(self, title: str, code_hex: str) -> None:
        """A tracking code: the full code and its short form shown; only the short form
        spoken, letter by letter."""
        from cli.speech import spoken_code

        short = " ".join(code_hex[i:i + 4] for i in range(0, 16, 4))
        click.echo(f"{title}: {code_hex}")
        self.say(_("Short form: {short}").format(short=short),
                 spoken=_("{title}, short form: {code}").format(
                     title=title, code=spoken_code(code_hex, self.speaker.lang)))

    def confirm(self, question: str) -> bool:
        """A yes/no question (y/n, はい/いいえ), asked again until answered."""
        while True:
            answer = self.ask(question).lower()
            if answer in ("y", "yes", "はい"):
                return True
            if answer in ("n", "no", "いいえ"):
                return False
            self.hint(_("Please answer y or n."))

    def heading(self, line: str) -> None:
        if self.plain:
            self.say(line)
            return
        click.echo()
        self.say(line, {"bold": True})
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in plain(line))
        click.echo("─" * min(width, 72))

    def option(self, n: int, label: str) -> None:
        if self.plain:
            self.say(_("Option {n}: {label}").format(n=n, label=label))
        else:
            click.echo(f"  {click.style(f'[{n}]', bold=True)} {plain(label)}")
            self.speaker.say(_("Option {n}: {label}").format(n=n, label=label))

    def ask(self, question: str) -> str:
        self.speaker.say(question)
        return normalize(self.ask_fn(plain(question)))

    def hint(self, line: str) -> None:
        self.say(line, {"fg": "yellow"})


def _numbers(answer: str) -> list[str]:
    return [x for x in re.split(r"[,\s、]+", answer) if x]


def ask_contest(screen: Screen, c: Contest, n: int, total: int) -> tuple[int, ...]:
    screen.heading(_("Question {n} of {total}: {title}").format(n=n, total=total,
                                                                title=text(c.title)))
    screen.say(instructions(c))
    labels = [text(o.label) for o in c.options]
    if c.kind == "rating":
        values = []
        for label in labels:
            while True:
                answer = screen.ask(_("Your rating for {item} (0 to 100)").format(item=label))
                if answer.isdigit() and int(answer) in RATING_LEVELS:
                    values.append(int(answer))
                    break
                screen.hint(_("Please type 0, 10, 20 and so on up to 100."))
        return tuple(values)
    for i, label in enumerate(labels, 1):
        screen.option(i, label)
    question = (_("Type the number of your choice") if c.kind == "single"
                else _("Type the numbers of your choices, separated by commas"))
    while True:
        parts = _numbers(screen.ask(question))
        valid = all(p.isdigit() and 1 <= int(p) <= len(labels) for p in parts) and \
            len(set(parts)) == len(parts)
        if valid and c.min_selections <= len(parts) <= c.max_selections:
            chosen = {int(p) for p in parts}
            return tuple(1 if i in chosen else 0 for i in range(1, len(labels) + 1))
        if c.kind == "single":
            screen.hint(_("Please type one number from 1 to {max}.").format(max=len(labels)))
        elif valid:
            screen.hint(instructions(c))
        else:
            screen.hint(_("Please type numbers from 1 to {max}.").format(max=len(labels)))


CAST, AGAIN, AUDIT = "cast", "again", "audit"
_ANSWERS = {"y": CAST, "yes": CAST, "はい": CAST, "n": AGAIN, "no": AGAIN, "いいえ": AGAIN,
            "a": AUDIT, "audit": AUDIT, "検証": AUDIT}


def summary(screen: Screen, m: Manifest, sel: Selections) -> None:
    screen.heading(_("Please check your choices"))
    for c, s in zip(m.contests, sel, strict=True):
        line = _("{contest}: {choice}").format(contest=text(c.title), choice=describe_choice(c, s))
        screen.say(line if screen.plain else f"  • {line}")


def fill_ballot(screen: Screen, m: Manifest, allow_audit: bool = True) -> tuple[Selections, str]:
    """Ask every contest, show the summary, confirm; returns (selections, CAST or AUDIT)."""
    while True:
        screen.heading(text(m.title))
        total = len(m.contests)
        sel = tuple(ask_contest(screen, c, i, total) for i, c in enumerate(m.contests, 1))
        summary(screen, m, sel)
        question = (_("Cast this ballot? (y: cast it, n: start again, a: audit it instead)")
                    if allow_audit else _("Cast this ballot? (y: cast it, n: start again)"))
        while True:
            choice = _ANSWERS.get(screen.ask(question).lower())
            if choice is not None and (allow_audit or choice != AUDIT):
                break
            screen.hint(_("Please answer y or n.") if not allow_audit
                        else _("Please answer y, n or a."))
        if choice != AGAIN:
            return sel, choice


def ballot_options(f: F) -> F:
    """--plain, --speak, --speak-to for every command that shows a ballot (with --lang)."""
    from pathlib import Path

    from cli.i18n import lang_option

    for opt in reversed([
        click.option("--plain", is_flag=True,
                     help="Linear output for screen readers: no colour, boxes or tables."),
        click.option("--speak", is_flag=True, help="Read the ballot and confirmation aloud."),
        click.option("--speak-to", type=click.Path(path_type=Path, dir_okay=False),
                     help="Write the same speech to this WAV file."),
    ]):
        f = opt(f)
    return lang_option(f)
