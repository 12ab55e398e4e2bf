"""Manifests: canonical id, and every rule of validate_manifest names its field."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given

from ballot_tx.codec import decode, encode
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.errors import ErrorCode, ManifestError
from ballot_tx.manifest import (
    Image,
    Label,
    Manifest,
    Option,
    check_selections,
    election_id,
    validate_manifest,
)

from .helpers import contest, manifest, manifests

M = manifest((contest("mayor", "single", 3), contest("council", "multiple", 4, 1, 2),
              contest("pledges", "rating", 2)))


def test_example_is_valid_and_id_is_its_digest() -> None:
    validate_manifest(M)
    assert len(election_id(M)) == 32
    assert decode(Manifest, encode(M)) == M
    assert election_id(replace(M, nonce=b"\x01" * 32)) != election_id(M)
    assert election_id(replace(M, title=Label("テスト選挙", "Test election!"))) != election_id(M)


@given(manifests())
def test_generated_manifests_are_valid_and_roundtrip(m: Manifest) -> None:
    validate_manifest(m)
    assert decode(Manifest, encode(m)) == m
    assert election_id(decode(Manifest, encode(m))) == election_id(m)


def _bad(m: Manifest, code: ErrorCode, field: str) -> None:
    with pytest.raises(ManifestError) as e:
        validate_manifest(m)
    assert e.value.code == code
    assert e.value.message.startswith(field), e.value.message


def test_each_rule_names_its_field() -> None:
    c0, c1, c2 = M.contests
    t0 = M.trustees[0]
    img = Image(b"\x00" * 32, "https://example.org/a b.png")
    cases = [
        (replace(M, version=2), ErrorCode.MANIFEST_VERSION, "version"),
        (replace(M, name="Bad Name"), ErrorCode.MANIFEST_BAD_FIELD, "name"),
        (replace(M, title=Label("", "x")), ErrorCode.MANIFEST_BAD_FIELD, "title.ja"),
        (replace(M, title=Label("x", "a\x07")), ErrorCode.MANIFEST_BAD_FIELD, "title.en"),
        (replace(M, contests=()), ErrorCode.MANIFEST_BAD_CONTEST, "contests"),
        (replace(M, contests=(c0, c0)), ErrorCode.MANIFEST_DUPLICATE_ID, "contests[1].id"),
        (replace(M, contests=(replace(c0, kind="ranked"),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].kind"),
        (replace(M, contests=(replace(c0, options=c0.options[:1]),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].options"),
        (replace(M, contests=(replace(c0, options=(c0.options[0], c0.options[0])),)),
         ErrorCode.MANIFEST_DUPLICATE_ID, "contests[0].options[1].id"),
        (replace(M, contests=(replace(c0, options=(replace(c0.options[0], image=img), c0.options[1])),)),
         ErrorCode.MANIFEST_BAD_FIELD, "contests[0].options[0].image.uri"),
        (replace(M, contests=(replace(c0, max_selections=2),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].min_selections"),
        (replace(M, contests=(replace(c1, min_selections=3, max_selections=2),)),
         ErrorCode.MANIFEST_BAD_CONTEST, "contests[0].max_selections"),
        (replace(M, contests=(replace(c1, max_selections=5),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].max_selections"),
        (replace(M, contests=(replace(c1, min_selections=0, max_selections=0),)),
         ErrorCode.MANIFEST_BAD_CONTEST, "contests[0].max_selections"),
        (replace(M, contests=(replace(c2, min_selections=1),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].min_selections"),
        (replace(M, contests=tuple(contest(f"r{i}", "rating", 64) for i in range(2))),
         ErrorCode.MANIFEST_TOO_LARGE, "contests"),
        (replace(M, eligibility="anyone"), ErrorCode.MANIFEST_BAD_FIELD, "eligibility"),
        (replace(M, end_ms=M.start_ms), ErrorCode.MANIFEST_BAD_TIMES, "end_ms"),
        (replace(M, max_ballots_per_voter=0), ErrorCode.MANIFEST_BAD_FIELD, "max_ballots_per_voter"),
        (replace(M, max_ballots_per_voter=1001), ErrorCode.MANIFEST_BAD_FIELD, "max_ballots_per_voter"),
        (replace(M, max_spoils_per_voter=1001), ErrorCode.MANIFEST_BAD_FIELD, "max_spoils_per_voter"),
        (replace(M, trustees=()), ErrorCode.MANIFEST_BAD_TRUSTEES, "trustees"),
        (replace(M, threshold=0), ErrorCode.MANIFEST_BAD_TRUSTEES, "threshold"),
        (replace(M, threshold=4), ErrorCode.MANIFEST_BAD_TRUSTEES, "threshold"),
        (replace(M, trustees=(t0, t0)), ErrorCode.MANIFEST_DUPLICATE_ID, "trustees[1].name"),
        (replace(M, trustees=(t0, replace(M.trustees[1], x25519_public=t0.x25519_public))),
         ErrorCode.MANIFEST_DUPLICATE_ID, "trustees[1].x25519_public"),
        (replace(M, threshold=1, trustees=(replace(t0, ed25519_public=b"\xff" * 32),)),
         ErrorCode.MANIFEST_BAD_TRUSTEES, "trustees[0].ed25519_public"),
    ]
    for m, code, field in cases:
        _bad(m, code, field)


def test_scale_labels_roundtrip_and_only_a_rating_has_them() -> None:
    from ballot_tx.manifest import DEFAULT_SCALE_HIGH, DEFAULT_SCALE_LOW, scale_ends

    c0, c1, c2 = M.contests
    low, high = Label("不満《ふまん》", "Dissatisfied"), Label("満足", "Satisfied")
    rated = replace(M, contests=(c0, c1, replace(c2, scale_low=low, scale_high=high)))
    validate_manifest(rated)
    assert decode(Manifest, encode(rated)) == rated
    assert election_id(rated) != election_id(M), "the labels are part of what the voters were asked"
    assert scale_ends(rated.contests[2]) == (low, high)
    assert scale_ends(c2) == (DEFAULT_SCALE_LOW, DEFAULT_SCALE_HIGH)
    assert scale_ends(replace(c2, scale_high=high)) == (DEFAULT_SCALE_LOW, high)
    # the layout is strict: a contest without the two fields (6, as before) is refused
    from ballot_tx.codec import pack, to_plain
    from ballot_tx.errors import CodecError

    plain = to_plain(M)
    plain[3] = [c[:6] for c in plain[3]]
    with pytest.raises(CodecError) as e:
        decode(Manifest, pack(plain))
    assert e.value.code == ErrorCode.CODEC_FIELD_COUNT
    for m, code, field in [
        (replace(M, contests=(replace(c0, scale_low=low),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].scale_low"),
        (replace(M, contests=(replace(c1, scale_high=high),)), ErrorCode.MANIFEST_BAD_CONTEST,
         "contests[0].scale_high"),
        (replace(M, contests=(replace(c2, scale_low=Label(" ", "x")),)), ErrorCode.MANIFEST_BAD_FIELD,
         "contests[0].scale_low.ja"),
        (replace(M, contests=(replace(c2, scale_high=Label("x", "a\x07")),)),
         ErrorCode.MANIFEST_BAD_FIELD, "contests[0].scale_high.en"),
    ]:
        _bad(m, code, field)


def test_scale_labels_have_the_label_length_limit() -> None:
    from ballot_tx.codec import decode as dec
    from ballot_tx.errors import CodecError
    from ballot_tx.manifest import LABEL_MAX, Contest

    c2 = M.contests[2]
    ok = replace(c2, scale_low=Label("あ" * LABEL_MAX, "a" * LABEL_MAX))
    assert dec(Contest, encode(ok)) == ok
    with pytest.raises(CodecError) as e:
        encode(replace(c2, scale_low=Label("あ" * (LABEL_MAX + 1), "a")))
    assert e.value.code == ErrorCode.CODEC_OUT_OF_RANGE


def test_options_with_images_are_fine() -> None:
    c0 = M.contests[0]
    opt = Option("a", Label("あ", "A"), Image(b"\x11" * 32, "https://city.example/a.png"))
    validate_manifest(replace(M, contests=(replace(c0, options=(opt, *c0.options[1:])),)))


def test_check_selections_accepts_the_documented_example() -> None:
    check_selections(M, ((0, 1, 0), (1, 1, 0, 0), (70, 100)))


# --- city-login: the manifest names its identity provider -------------------------------

PROVIDER = LoginProvider("https://login.city.tsukuba.example", "ballotchain-registrar")
#: (issuer, client id, the field the refusal names) -- each refused with MANIFEST_BAD_PROVIDER
BAD_PROVIDERS = [
    ("https://login.city.tsukuba.example/", "c", "login_provider.issuer"),  # trailing slash
    ("http://login.city.tsukuba.example", "c", "login_provider.issuer"),  # http off loopback
    ("ftp://login.example", "c", "login_provider.issuer"),
    ("login.city.tsukuba.example", "c", "login_provider.issuer"),  # not a URL
    ("https://", "c", "login_provider.issuer"),  # no host
    ("https://user@login.example", "c", "login_provider.issuer"),  # user info
    ("https://login.example?tenant=x", "c", "login_provider.issuer"),  # query
    ("https://login.example#x", "c", "login_provider.issuer"),  # fragment
    ("https://login.example/a b", "c", "login_provider.issuer"),  # space
    ("https://login.example:99999", "c", "login_provider.issuer"),  # bad port
    ("https://login.example:8x", "c", "login_provider.issuer"),
    ("https://login.example:\u00b2", "c", "login_provider.issuer"),  # a non-ASCII digit
    ("https://a:1:2", "c", "login_provider.issuer"),
    ("https://[::1", "c", "login_provider.issuer"),
    ("http://[::2]:3000", "c", "login_provider.issuer"),  # http, not loopback
    ("", "c", "login_provider.issuer"),
    ("https://" + "a" * 250 + ".jp", "c", "login_provider.issuer"),  # > 255 characters
    ("https://login.example", "", "login_provider.client_id"),
    ("https://login.example", "   ", "login_provider.client_id"),
    ("https://login.example", " padded", "login_provider.client_id"),
    ("https://login.example", "a\x00b", "login_provider.client_id"),
    ("https://login.example", "c" * 256, "login_provider.client_id"),
]
GOOD_PROVIDERS = [
    PROVIDER,
    LoginProvider("https://login.example:8443/realms/tsukuba", "つくスマ"),
    LoginProvider("http://127.0.0.1:24001", "c"),  # a provider on the same machine (tests)
    LoginProvider("http://localhost:3000", "c"),
    LoginProvider("http://[::1]:3000", "c"),
    LoginProvider("https://[2001:db8::1]:8443", "c"),
    LoginProvider("https://" + "a" * 243 + ".jp", "c" * 255),  # exactly 255 characters each
]


def test_a_city_login_manifest_names_its_provider_on_the_wire() -> None:
    m = replace(M, eligibility="city-login", login_provider=PROVIDER)
    validate_manifest(m)
    assert decode(Manifest, encode(m)) == m
    # the provider is part of the election id: another issuer or client id is another election
    assert election_id(replace(m, login_provider=replace(PROVIDER, client_id="x"))) != election_id(m)
    assert election_id(replace(m, login_provider=replace(PROVIDER, issuer="https://evil.example"))) \
        != election_id(m)
    for p in GOOD_PROVIDERS:
        validate_manifest(replace(m, login_provider=p))


@pytest.mark.parametrize("issuer,client_id,field", BAD_PROVIDERS)
def test_bad_providers_are_refused_with_their_field(issuer: str, client_id: str, field: str) -> None:
    m = replace(M, eligibility="city-login", login_provider=LoginProvider(issuer, client_id))
    _bad(m, ErrorCode.MANIFEST_BAD_PROVIDER, field)


def test_the_provider_is_required_for_city_login_and_only_there() -> None:
    _bad(replace(M, eligibility="city-login"), ErrorCode.MANIFEST_BAD_PROVIDER, "login_provider")
    for method in ("registered-key", "one-time-code"):
        _bad(replace(M, eligibility=method, login_provider=PROVIDER),
             ErrorCode.MANIFEST_BAD_PROVIDER, "login_provider")


def provider_variants(m: Manifest) -> list[Manifest]:
    """``m`` with each good and bad provider that can be encoded (for the cross-implementation
    checks; an over-long field is the codec's refusal, tested above)."""
    city = replace(m, eligibility="city-login")
    return [
        *(replace(city, login_provider=p) for p in GOOD_PROVIDERS),
        *(replace(city, login_provider=LoginProvider(i, c)) for i, c, _ in BAD_PROVIDERS
          if len(i) <= 255 and len(c) <= 255),
        city,  # no provider
        replace(m, eligibility="one-time-code", login_provider=PROVIDER),
    ]
