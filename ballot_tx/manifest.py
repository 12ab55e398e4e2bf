"""Election manifests: what is being voted on, by whom, when, and who holds the key.

A manifest is a canonical wire object; its digest is the election id, which every
ballot proof, trustee message and result binds to. ``validate_manifest`` checks
what the codec cannot (unique ids, sane limits, threshold, times) and names the
offending field in its ``ManifestError``.

Contest kinds and what a voter's selections look like (``Selections``: one tuple
per contest, one int per option, in manifest order):

* ``single``   -- choose exactly one option: values 0/1, exactly one 1
  (``min_selections = max_selections = 1``);
* ``multiple`` -- choose between ``min_selections`` and ``max_selections`` options:
  values 0/1;
* ``rating``   -- rate every option (an item, e.g. a mayoral pledge) on 11 levels
  0, 10, ..., 100: values are those multiples of ten; ``min_selections =
  max_selections = len(options)`` (each item gets exactly one rating). What 0 and 100
  mean is said by ``scale_low`` / ``scale_high`` (labels, readings allowed as in every
  label), or by ``DEFAULT_SCALE_LOW`` / ``DEFAULT_SCALE_HIGH`` when absent
  (``scale_ends``); other kinds carry neither.

Example: ``((0, 1, 0), (1, 1, 0, 0), (70, 100, 0))`` for a 3-option single-choice,
a 4-option multiple-choice and a 3-item rating contest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, ClassVar

import nacl.bindings

from ballot_tx.codec import U8, U16, U64, Bytes32, MaxLen, Wire, digest
from ballot_tx.eligibility.city_login import LoginProvider, check_login_provider
from ballot_tx.errors import CryptoError, ErrorCode, ManifestError

MANIFEST_VERSION = 1
CONTEST_KINDS = ("single", "multiple", "rating")
ELIGIBILITY_METHODS = ("registered-key", "one-time-code", "city-login")
#: Rating levels: 0, 10, ..., 100 (11 levels, as Tsukuba's pledge evaluation).
RATING_LEVELS: tuple[int, ...] = tuple(range(0, 101, 10))
RATING_STEP = 10
MAX_CONTESTS = 32
MAX_OPTIONS = 64
MAX_TRUSTEES = 32
#: Upper bound on ciphertexts per ballot (a rating item takes 11): keeps every valid
#: ballot well inside the encoder's 1 MiB limit and its verification bounded.
MAX_BALLOT_CIPHERTEXTS = 1024
LABEL_MAX = 300
#: Per-voter limits (issue 11, attack 3): what one voter key may put on chain. The
#: defaults leave room for a voter who audits a few ballots and changes their mind a few
#: times; the bounds keep one voter's share of a block small.
DEFAULT_MAX_SPOILS = 10
DEFAULT_MAX_BALLOTS = 20
MAX_PER_VOTER = 1000
ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

Text = Annotated[str, MaxLen(LABEL_MAX)]
Ident = Annotated[str, MaxLen(64)]

#: A voter's choices: per contest, per option (see module docstring).
Selections = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Label(Wire):
    """Text shown to voters, in Japanese and English (both required)."""

    ja: Text
    en: Text


@dataclass(frozen=True)
class Image(Wire):
    """An option's picture: SHA-256 of the image file and where to fetch it."""

    sha256: Bytes32
    uri: Annotated[str, MaxLen(500)]


@dataclass(frozen=True)
class Option(Wire):
    id: Ident
    label: Label
    image: Image | None


@dataclass(frozen=True)
class Contest(Wire):
    id: Ident
    kind: Annotated[str, MaxLen(16)]
    title: Label
    options: Annotated[tuple[Option, ...], MaxLen(MAX_OPTIONS)]
    min_selections: U16
    max_selections: U16
    #: rating only: what 0 and 100 mean (None: the defaults below, see ``scale_ends``)
    scale_low: Label | None = None
    scale_high: Label | None = None


#: What 0 and 100 of a rating mean when the manifest does not say (the wording voters
#: saw before manifests could say it; the page's catalog has the same text).
DEFAULT_SCALE_LOW = Label("まったく評価しない", "not at all")
DEFAULT_SCALE_HIGH = Label("とても高く評価する", "very highly")


def scale_ends(c: Contest) -> tuple[Label, Label]:
    """What 0 and 100 mean on a rating contest: the manifest's labels, else the defaults."""
    return (c.scale_low or DEFAULT_SCALE_LOW, c.scale_high or DEFAULT_SCALE_HIGH)


@dataclass(frozen=True)
class TrusteeInfo(Wire):
    """A trustee's identity keys: Ed25519 signs its ceremony and decryption
    transactions, X25519 receives key shares (nacl Box)."""

    name: Annotated[str, MaxLen(100)]
    ed25519_public: Bytes32
    x25519_public: Bytes32


@dataclass(frozen=True)
class Manifest(Wire):
    """An election. Trustee ``i`` (1-based, in list order) is trustee index ``i`` in the
    key ceremony; ``threshold`` of them can decrypt the tally."""

    KIND: ClassVar[str] = "manifest"
    MAX_SIZE: ClassVar[int] = 1 << 20

    version: U16
    name: Ident
    title: Label
    contests: Annotated[tuple[Contest, ...], MaxLen(MAX_CONTESTS)]
    eligibility: Annotated[str, MaxLen(32)]
    start_ms: U64
    end_ms: U64
    revoting: bool
    trustees: Annotated[tuple[TrusteeInfo, ...], MaxLen(MAX_TRUSTEES)]
    threshold: U8
    nonce: Bytes32
    max_spoils_per_voter: U16 = DEFAULT_MAX_SPOILS  # 0: no spoiling (Benaloh audits) at all
    max_ballots_per_voter: U16 = DEFAULT_MAX_BALLOTS  # cast ballots, re-votes included
    # the eligibility method's parameters: ``city-login`` names its OpenID Connect
    # provider (issuer, client id); the other methods have none (None)
    login_provider: LoginProvider | None = None


_EID_CACHE: dict[int, tuple[Manifest, bytes]] = {}


def voting_over(m: Manifest, time_ms: int) -> bool:
    """The voting window has ended at (block) time ``time_ms``: ballots are refused, and
    the first block at or after ``end_ms`` closes the election (the auto-close rule).
    The one statement of "ended": the state machine, the node and the CLI all ask it."""
    return m.end_ms <= time_ms


def voting_open_at(m: Manifest, time_ms: int) -> bool:
    """``time_ms`` lies in the voting window ``[start_ms, end_ms)``."""
    return m.start_ms <= time_ms and not voting_over(m, time_ms)


def election_id(m: Manifest) -> bytes:
    """The 32-byte election id: ``digest(manifest)``.

    Memoized per manifest object (ballot checking asks for it on every ballot, and
    encoding a large manifest costs as much as a scalar multiplication); the cache
    holds the object itself, so its ``id`` cannot be reused while cached.
    """
    hit = _EID_CACHE.get(id(m))
    if hit is not None and hit[0] is m:
        return hit[1]
    eid = digest(m)
    if len(_EID_CACHE) >= 64:
        _EID_CACHE.clear()
    _EID_CACHE[id(m)] = (m, eid)
    return eid


def _fail(code: ErrorCode, field: str, why: str) -> ManifestError:
    return ManifestError(code, f"{field}: {why}")


def _check_text(s: str, field: str, max_len: int = LABEL_MAX) -> None:
    if not s.strip():
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, "must not be empty")
    if len(s) > max_len:
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, f"longer than {max_len} characters")
    if any(ord(ch) < 32 and ch not in "\n" for ch in s):
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, "contains control characters")


def _check_label(lbl: Label, field: str) -> None:
    _check_text(lbl.ja, f"{field}.ja")
    _check_text(lbl.en, f"{field}.en")


def _check_id(s: str, field: str) -> None:
    if not ID_RE.fullmatch(s):
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            field,
            f"{s!r} is not an id (1-64 of a-z 0-9 _ . -, starting with a letter or digit)",
        )


def contest_width(c: Contest) -> int:
    """Number of ciphertexts a contest takes on a ballot (one per option, or 11 per
    rating item: one per level, see ``crypto/ballot.py``)."""
    return len(c.options) * (len(RATING_LEVELS) if c.kind == "rating" else 1)


def _check_contest(c: Contest, field: str) -> None:
    _check_id(c.id, f"{field}.id")
    _check_label(c.title, f"{field}.title")
    if c.kind not in CONTEST_KINDS:
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.kind", f"{c.kind!r} is not one of {CONTEST_KINDS}"
        )
    n = len(c.options)
    if n < (1 if c.kind == "rating" else 2):
        raise _fail(ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.options", "too few options")
    seen: set[str] = set()
    for i, o in enumerate(c.options):
        of = f"{field}.options[{i}]"
        _check_id(o.id, f"{of}.id")
        if o.id in seen:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{of}.id", f"{o.id!r} appears twice")
        seen.add(o.id)
        _check_label(o.label, f"{of}.label")
        if o.image is not None:
            _check_text(o.image.uri, f"{of}.image.uri", 500)
            if any(ch.isspace() for ch in o.image.uri):
                raise _fail(ErrorCode.MANIFEST_BAD_FIELD, f"{of}.image.uri", "contains spaces")
    lo, hi = c.min_selections, c.max_selections
    if c.kind == "single" and (lo, hi) != (1, 1):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.min_selections", "single choice needs min = max = 1"
        )
    if c.kind == "multiple" and not (0 <= lo <= hi <= n and hi >= 1):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST,
            f"{field}.max_selections",
            f"need 0 <= min <= max <= {n} options and max >= 1, got {lo}..{hi}",
        )
    if c.kind == "rating" and (lo, hi) != (n, n):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST,
            f"{field}.min_selections",
            f"a rating contest rates every item: min = max = {n}",
        )
    for name, end in (("scale_low", c.scale_low), ("scale_high", c.scale_high)):
        if end is None:
            continue
        if c.kind != "rating":
            raise _fail(
                ErrorCode.MANIFEST_BAD_CONTEST,
                f"{field}.{name}",
                f"only a rating contest has a scale, not a {c.kind} contest",
            )
        _check_label(end, f"{field}.{name}")


def validate_manifest(m: Manifest) -> None:
    """Raise ``ManifestError`` (naming the field) unless ``m`` is a usable election."""
    if m.version != MANIFEST_VERSION:
        raise _fail(ErrorCode.MANIFEST_VERSION, "version", f"{m.version} is not {MANIFEST_VERSION}")
    _check_id(m.name, "name")
    _check_label(m.title, "title")
    if not m.contests:
        raise _fail(ErrorCode.MANIFEST_BAD_CONTEST, "contests", "at least one contest is needed")
    seen: set[str] = set()
    for i, c in enumerate(m.contests):
        _check_contest(c, f"contests[{i}]")
        if c.id in seen:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"contests[{i}].id", f"{c.id!r} appears twice")
        seen.add(c.id)
    width = sum(contest_width(c) for c in m.contests)
    if width > MAX_BALLOT_CIPHERTEXTS:
        raise _fail(
            ErrorCode.MANIFEST_TOO_LARGE,
            "contests",
            f"a ballot would hold {width} ciphertexts > {MAX_BALLOT_CIPHERTEXTS}",
        )
    if m.eligibility not in ELIGIBILITY_METHODS:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "eligibility",
            f"{m.eligibility!r} is not one of {ELIGIBILITY_METHODS}",
        )
    if m.eligibility == "city-login":
        check_login_provider(m.login_provider)
    elif m.login_provider is not None:
        raise _fail(ErrorCode.MANIFEST_BAD_PROVIDER, "login_provider",
                    f"only a city-login election names an identity provider, not {m.eligibility!r}")
    if not m.start_ms < m.end_ms:
        raise _fail(ErrorCode.MANIFEST_BAD_TIMES, "end_ms", "voting must end after it starts")
    if m.max_spoils_per_voter > MAX_PER_VOTER:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "max_spoils_per_voter",
            f"{m.max_spoils_per_voter} is more than {MAX_PER_VOTER}",
        )
    if not 1 <= m.max_ballots_per_voter <= MAX_PER_VOTER:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "max_ballots_per_voter",
            f"need 1 <= max_ballots_per_voter <= {MAX_PER_VOTER}, got {m.max_ballots_per_voter}",
        )
    n = len(m.trustees)
    if n == 0:
        raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, "trustees", "at least one trustee is needed")
    if not 1 <= m.threshold <= n:
        raise _fail(
            ErrorCode.MANIFEST_BAD_TRUSTEES, "threshold", f"need 1 <= threshold <= {n}, got {m.threshold}"
        )
    names: set[str] = set()
    keys: set[bytes] = set()
    for i, t in enumerate(m.trustees):
        tf = f"trustees[{i}]"
        _check_text(t.name, f"{tf}.name", 100)
        if t.name in names:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{tf}.name", f"{t.name!r} appears twice")
        names.add(t.name)
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(t.ed25519_public):
            raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, f"{tf}.ed25519_public", "not a valid key")
        if t.x25519_public == bytes(32):
            raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, f"{tf}.x25519_public", "not a valid key")
        for k, kf in ((t.ed25519_public, "ed25519_public"), (t.x25519_public, "x25519_public")):
            if k in keys:
                raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{tf}.{kf}", "key appears twice")
            keys.add(k)


def normalize_selections(selections: object) -> Selections:
    """Selections as nested tuples, from tuples or lists (e.g. parsed JSON); anything
    else is CRYPTO_BAD_SELECTION. Values are not checked here (``check_selections``)."""
    if not isinstance(selections, list | tuple) or not all(
        isinstance(s, list | tuple) for s in selections
    ):
        raise CryptoError(
            ErrorCode.CRYPTO_BAD_SELECTION, "selections must be a list of lists of integers"
        )
    return tuple(tuple(s) for s in selections)


def check_selections(m: Manifest, selections: Selections) -> None:
    """Raise CRYPTO_BAD_SELECTION unless ``selections`` is a valid vote on ``m``."""

    def bad(why: str) -> CryptoError:
        return CryptoError(ErrorCode.CRYPTO_BAD_SELECTION, why)

    if type(selections) is not tuple or len(selections) != len(m.contests):
        raise bad(f"need one selection tuple per contest ({len(m.contests)})")
    for c, sel in zip(m.contests, selections, strict=True):
        if type(sel) is not tuple or len(sel) != len(c.options):
            raise bad(f"contest {c.id!r}: need one value per option ({len(c.options)})")
        if any(type(v) is not int for v in sel):
            raise bad(f"contest {c.id!r}: values must be integers")
        if c.kind == "rating":
            for o, v in zip(c.options, sel, strict=True):
                if v not in RATING_LEVELS:
                    raise bad(f"contest {c.id!r} item {o.id!r}: rating {v} is not one of 0, 10, ..., 100")
            continue
        for o, v in zip(c.options, sel, strict=True):
            if v not in (0, 1):
                raise bad(f"contest {c.id!r} option {o.id!r}: value {v} is not 0 or 1")
        k = sum(sel)
        if not c.min_selections <= k <= c.max_selections:
            raise bad(
                f"contest {c.id!r}: {k} options chosen, allowed {c.min_selections}..{c.max_selections}"
            )
