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


def scale_ends(contest: Contest) -> tuple[Label, Label]:
    """What 0 and 100 mean on a rating contest: the manifest's labels, else the defaults."""
    return (contest.scale_low or DEFAULT_SCALE_LOW, contest.scale_high or DEFAULT_SCALE_HIGH)


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


def voting_over(manifest: Manifest, time_ms: int) -> bool:
    """The voting window has ended at (block) time ``time_ms``: ballots are refused, and
    the first block at or after ``end_ms`` closes the election (the auto-close rule).
    The one statement of "ended": the state machine, the node and the CLI all ask it."""
    return manifest.end_ms <= time_ms


def voting_open_at(manifest: Manifest, time_ms: int) -> bool:
    """``time_ms`` lies in the voting window ``[start_ms, end_ms)``."""
    return manifest.start_ms <= time_ms and not voting_over(manifest, time_ms)


def election_id(manifest: Manifest) -> bytes:
    """The 32-byte election id: ``digest(manifest)``.

    Memoized per manifest object (ballot checking asks for it on every ballot, and
    encoding a large manifest costs as much as a scalar multiplication); the cache
    holds the object itself, so its ``id`` cannot be reused while cached.
    """
    hit = _EID_CACHE.get(id(manifest))
    if hit is not None and hit[0] is manifest:
        return hit[1]
    eid = digest(manifest)
    if len(_EID_CACHE) >= 64:
        _EID_CACHE.clear()
    _EID_CACHE[id(manifest)] = (manifest, eid)
    return eid


def _fail(code: ErrorCode, field: str, why: str) -> ManifestError:
    return ManifestError(code, f"{field}: {why}")


def _check_text(text: str, field: str, max_len: int = LABEL_MAX) -> None:
    if not text.strip():
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, "must not be empty")
    if len(text) > max_len:
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, f"longer than {max_len} characters")
    if any(ord(ch) < 32 and ch not in "\n" for ch in text):
        raise _fail(ErrorCode.MANIFEST_BAD_FIELD, field, "contains control characters")


def _check_label(label: Label, field: str) -> None:
    _check_text(label.ja, f"{field}.ja")
    _check_text(label.en, f"{field}.en")


def _check_id(ident: str, field: str) -> None:
    if not ID_RE.fullmatch(ident):
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            field,
            f"{ident!r} is not an id (1-64 of a-z 0-9 _ . -, starting with a letter or digit)",
        )


def contest_width(contest: Contest) -> int:
    """Number of ciphertexts a contest takes on a ballot (one per option, or 11 per
    rating item: one per level, see ``crypto/ballot.py``)."""
    return len(contest.options) * (len(RATING_LEVELS) if contest.kind == "rating" else 1)


def _check_contest(contest: Contest, field: str) -> None:
    _check_id(contest.id, f"{field}.id")
    _check_label(contest.title, f"{field}.title")
    if contest.kind not in CONTEST_KINDS:
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.kind", f"{contest.kind!r} is not one of {CONTEST_KINDS}"
        )
    option_count = len(contest.options)
    if option_count < (1 if contest.kind == "rating" else 2):
        raise _fail(ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.options", "too few options")
    seen: set[str] = set()
    for index, option in enumerate(contest.options):
        where = f"{field}.options[{index}]"
        _check_id(option.id, f"{where}.id")
        if option.id in seen:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{where}.id", f"{option.id!r} appears twice")
        seen.add(option.id)
        _check_label(option.label, f"{where}.label")
        if option.image is not None:
            _check_text(option.image.uri, f"{where}.image.uri", 500)
            if any(ch.isspace() for ch in option.image.uri):
                raise _fail(ErrorCode.MANIFEST_BAD_FIELD, f"{where}.image.uri", "contains spaces")
    lo, hi = contest.min_selections, contest.max_selections
    if contest.kind == "single" and (lo, hi) != (1, 1):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST, f"{field}.min_selections", "single choice needs min = max = 1"
        )
    if contest.kind == "multiple" and not (0 <= lo <= hi <= option_count and hi >= 1):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST,
            f"{field}.max_selections",
            f"need 0 <= min <= max <= {option_count} options and max >= 1, got {lo}..{hi}",
        )
    if contest.kind == "rating" and (lo, hi) != (option_count, option_count):
        raise _fail(
            ErrorCode.MANIFEST_BAD_CONTEST,
            f"{field}.min_selections",
            f"a rating contest rates every item: min = max = {option_count}",
        )
    for name, end in (("scale_low", contest.scale_low), ("scale_high", contest.scale_high)):
        if end is None:
            continue
        if contest.kind != "rating":
            raise _fail(
                ErrorCode.MANIFEST_BAD_CONTEST,
                f"{field}.{name}",
                f"only a rating contest has a scale, not a {contest.kind} contest",
            )
        _check_label(end, f"{field}.{name}")


def validate_manifest(manifest: Manifest) -> None:
    """Raise ``ManifestError`` (naming the field) unless ``m`` is a usable election."""
    if manifest.version != MANIFEST_VERSION:
        raise _fail(ErrorCode.MANIFEST_VERSION, "version", f"{manifest.version} is not {MANIFEST_VERSION}")
    _check_id(manifest.name, "name")
    _check_label(manifest.title, "title")
    if not manifest.contests:
        raise _fail(ErrorCode.MANIFEST_BAD_CONTEST, "contests", "at least one contest is needed")
    seen: set[str] = set()
    for index, contest in enumerate(manifest.contests):
        _check_contest(contest, f"contests[{index}]")
        if contest.id in seen:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"contests[{index}].id", f"{contest.id!r} appears twice")
        seen.add(contest.id)
    width = sum(contest_width(contest) for contest in manifest.contests)
    if width > MAX_BALLOT_CIPHERTEXTS:
        raise _fail(
            ErrorCode.MANIFEST_TOO_LARGE,
            "contests",
            f"a ballot would hold {width} ciphertexts > {MAX_BALLOT_CIPHERTEXTS}",
        )
    if manifest.eligibility not in ELIGIBILITY_METHODS:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "eligibility",
            f"{manifest.eligibility!r} is not one of {ELIGIBILITY_METHODS}",
        )
    if manifest.eligibility == "city-login":
        check_login_provider(manifest.login_provider)
    elif manifest.login_provider is not None:
        raise _fail(ErrorCode.MANIFEST_BAD_PROVIDER, "login_provider",
                    f"only a city-login election names an identity provider, not {manifest.eligibility!r}")
    if not manifest.start_ms < manifest.end_ms:
        raise _fail(ErrorCode.MANIFEST_BAD_TIMES, "end_ms", "voting must end after it starts")
    if manifest.max_spoils_per_voter > MAX_PER_VOTER:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "max_spoils_per_voter",
            f"{manifest.max_spoils_per_voter} is more than {MAX_PER_VOTER}",
        )
    if not 1 <= manifest.max_ballots_per_voter <= MAX_PER_VOTER:
        raise _fail(
            ErrorCode.MANIFEST_BAD_FIELD,
            "max_ballots_per_voter",
            f"need 1 <= max_ballots_per_voter <= {MAX_PER_VOTER}, got {manifest.max_ballots_per_voter}",
        )
    trustee_count = len(manifest.trustees)
    if trustee_count == 0:
        raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, "trustees", "at least one trustee is needed")
    if not 1 <= manifest.threshold <= trustee_count:
        raise _fail(
            ErrorCode.MANIFEST_BAD_TRUSTEES, "threshold", f"need 1 <= threshold <= {trustee_count}, got {manifest.threshold}"
        )
    names: set[str] = set()
    keys: set[bytes] = set()
    for index, trustee in enumerate(manifest.trustees):
        where = f"trustees[{index}]"
        _check_text(trustee.name, f"{where}.name", 100)
        if trustee.name in names:
            raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{where}.name", f"{trustee.name!r} appears twice")
        names.add(trustee.name)
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(trustee.ed25519_public):
            raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, f"{where}.ed25519_public", "not a valid key")
        if trustee.x25519_public == bytes(32):
            raise _fail(ErrorCode.MANIFEST_BAD_TRUSTEES, f"{where}.x25519_public", "not a valid key")
        for key, key_field in ((trustee.ed25519_public, "ed25519_public"), (trustee.x25519_public, "x25519_public")):
            if key in keys:
                raise _fail(ErrorCode.MANIFEST_DUPLICATE_ID, f"{where}.{key_field}", "key appears twice")
            keys.add(key)


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


def check_selections(manifest: Manifest, selections: Selections) -> None:
    """Raise CRYPTO_BAD_SELECTION unless ``selections`` is a valid vote on ``m``."""

    def bad(why: str) -> CryptoError:
        return CryptoError(ErrorCode.CRYPTO_BAD_SELECTION, why)

    if type(selections) is not tuple or len(selections) != len(manifest.contests):
        raise bad(f"need one selection tuple per contest ({len(manifest.contests)})")
    for contest, sel in zip(manifest.contests, selections, strict=True):
        if type(sel) is not tuple or len(sel) != len(contest.options):
            raise bad(f"contest {contest.id!r}: need one value per option ({len(contest.options)})")
        if any(type(value) is not int for value in sel):
            raise bad(f"contest {contest.id!r}: values must be integers")
        if contest.kind == "rating":
            for option, value in zip(contest.options, sel, strict=True):
                if value not in RATING_LEVELS:
                    raise bad(f"contest {contest.id!r} item {option.id!r}: rating {value} is not one of 0, 10, ..., 100")
            continue
        for option, value in zip(contest.options, sel, strict=True):
            if value not in (0, 1):
                raise bad(f"contest {contest.id!r} option {option.id!r}: value {value} is not 0 or 1")
        chosen = sum(sel)
        if not contest.min_selections <= chosen <= contest.max_selections:
            raise bad(
                f"contest {contest.id!r}: {chosen} options chosen, allowed {contest.min_selections}..{contest.max_selections}"
            )
