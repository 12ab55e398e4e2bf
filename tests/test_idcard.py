"""ID-card eligibility (My Number Card model): every check, against real X.509."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.eligibility.idcard import (
    Card,
    CardAuthority,
    CardRegistration,
    card_tag,
    card_tag_key,
    load_card,
    make_registration,
    verify_registration,
)
from ballot_tx.errors import EligibilityError, ErrorCode
from cli import card_authority as ca_lib

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ELECTION = bytes(range(32))
VOTER = bytes([7]) * 32
TAG_KEY = card_tag_key(b"\x01" * 32)


def der(cert: object) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)  # type: ignore[attr-defined]


def make_card(ca: ca_lib.Authority, serial: int, *, key_type: str = "ec",
              start: datetime = NOW - timedelta(days=365),
              end: datetime = NOW + timedelta(days=365), signing: bool = True) -> Card:
    cert, key = ca_lib.issue_card(ca, serial, "筑波 太郎", start, end, key_type, signing)
    return Card(der(cert), key)


@pytest.fixture(scope="module")
def ca() -> ca_lib.Authority:
    return ca_lib.new_authority(NOW - timedelta(days=800))


@pytest.fixture(scope="module")
def other_ca() -> ca_lib.Authority:
    # Same name as the real CA: only its signature tells them apart.
    return ca_lib.new_authority(NOW - timedelta(days=800))


@pytest.fixture(scope="module")
def authority(ca: ca_lib.Authority) -> CardAuthority:
    revoked = {666: NOW - timedelta(days=2)}
    return CardAuthority.from_pem(ca.cert_pem(), ca_lib.make_crl(ca, revoked, NOW - timedelta(days=1)))


@pytest.fixture(scope="module")
def card(ca: ca_lib.Authority) -> Card:
    return make_card(ca, 1001)


def check(req: CardRegistration, authority: CardAuthority, now: datetime = NOW,
          election: bytes = ELECTION, tag_key: bytes = TAG_KEY) -> bytes:
    return verify_registration(req, authority, now, election, tag_key).tag


def code_of(req: CardRegistration, authority: CardAuthority, **kw: object) -> ErrorCode:
    with pytest.raises(EligibilityError) as ei:
        check(req, authority, **kw)  # type: ignore[arg-type]
    return ei.value.code


def test_valid_card_registers_with_a_keyed_tag(card: Card, authority: CardAuthority) -> None:
    tag = check(make_registration(card, ELECTION, VOTER), authority)
    assert len(tag) == 32
    # The same card always gives the same tag in one election, whatever voter key it signs,
    # so the chain can refuse a second registration with it.
    assert check(make_registration(card, ELECTION, bytes(32)), authority) == tag
    # Nothing readable: neither the serial nor the name is in the tag.
    assert b"1001" not in tag and "筑波".encode() not in tag


def test_rsa_2048_card_as_jpki(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    card = make_card(ca, 1002, key_type="rsa")
    assert len(check(make_registration(card, ELECTION, VOTER), authority)) == 32


def test_tag_depends_on_card_election_and_registrar_key(ca: ca_lib.Authority,
                                                        authority: CardAuthority,
                                                        card: Card) -> None:
    req = make_registration(card, ELECTION, VOTER)
    tag = check(req, authority)
    other_card = make_card(ca, 1003)
    assert check(make_registration(other_card, ELECTION, VOTER), authority) != tag
    election2 = bytes(32)
    assert check(make_registration(card, election2, VOTER), authority, election=election2) != tag
    assert check(req, authority, tag_key=card_tag_key(b"\x02" * 32)) != tag


@given(st.integers(1, 2**159 - 1), st.integers(1, 2**159 - 1), st.binary(min_size=1, max_size=40))
def test_card_tag_is_injective_on_serial_and_issuer(s1: int, s2: int, issuer: bytes) -> None:
    t1 = card_tag(TAG_KEY, ELECTION, issuer, s1)
    assert t1 == card_tag(TAG_KEY, ELECTION, issuer, s1)
    if s1 != s2:
        assert card_tag(TAG_KEY, ELECTION, issuer, s2) != t1
    # Length-prefixed fields: moving a byte from the issuer into the election id changes the tag.
    assert card_tag(TAG_KEY, ELECTION[:-1], bytes([ELECTION[-1]]) + issuer, s1) != t1


def test_bad_signature(card: Card, authority: CardAuthority) -> None:
    req = make_registration(card, ELECTION, VOTER)
    forged = CardRegistration(req.election_id, bytes([8]) * 32, req.certificate, req.signature)
    assert code_of(forged, authority) == ErrorCode.ELIGIBILITY_BAD_SIGNATURE


@pytest.fixture(scope="module")
def signed(card: Card) -> CardRegistration:
    return make_registration(card, ELECTION, VOTER)  # ECDSA: one fixed signature


@given(st.data())
def test_any_changed_signature_byte_is_refused(signed: CardRegistration, authority: CardAuthority,
                                               data: st.DataObject) -> None:
    req = signed
    i = data.draw(st.integers(0, len(req.signature) - 1))
    flip = data.draw(st.integers(1, 255))
    sig = bytearray(req.signature)
    sig[i] ^= flip
    bad = CardRegistration(req.election_id, req.voter_public, req.certificate, bytes(sig))
    assert code_of(bad, authority) == ErrorCode.ELIGIBILITY_BAD_SIGNATURE


def test_wrong_ca(other_ca: ca_lib.Authority, authority: CardAuthority) -> None:
    foreign = make_card(other_ca, 1001)  # same issuer name and serial, other CA key
    assert code_of(make_registration(foreign, ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_WRONG_CA
    renamed = ca_lib.new_authority(NOW, name="Some Other Authority")
    assert code_of(make_registration(make_card(renamed, 5), ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_WRONG_CA


def test_configured_ca_must_be_a_ca(ca: ca_lib.Authority, card: Card) -> None:
    # A registrar configured with a card certificate instead of the CA's is refused clearly.
    bad = CardAuthority(card.certificate, CardAuthority.from_pem(
        ca.cert_pem(), ca_lib.make_crl(ca, {}, NOW)).crl)
    assert code_of(make_registration(card, ELECTION, VOTER), bad) == ErrorCode.ELIGIBILITY_WRONG_CA


def test_expired_and_not_yet_valid(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    old = make_card(ca, 2001, start=NOW - timedelta(days=800), end=NOW - timedelta(days=1))
    assert code_of(make_registration(old, ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_CARD_EXPIRED
    new = make_card(ca, 2002, start=NOW + timedelta(days=1), end=NOW + timedelta(days=800))
    assert code_of(make_registration(new, ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_CARD_NOT_YET_VALID


@given(st.integers(-400, 400))
def test_validity_window_decides(ca: ca_lib.Authority, card: Card, offset_days: int) -> None:
    # The card is valid NOW +- 365 days; the CRL is made current at the checking time.
    now = NOW + timedelta(days=offset_days, hours=1)
    auth = CardAuthority.from_pem(ca.cert_pem(), ca_lib.make_crl(ca, {}, now))
    req = make_registration(card, ELECTION, VOTER)
    if -365 <= offset_days < 365:  # valid from NOW-365d to NOW+365d; now is 1 h past
        assert len(check(req, auth, now=now)) == 32
    else:
        assert code_of(req, auth, now=now) == (ErrorCode.ELIGIBILITY_CARD_EXPIRED if offset_days > 0
                                               else ErrorCode.ELIGIBILITY_CARD_NOT_YET_VALID)


def test_revoked(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    revoked = make_card(ca, 666)
    assert code_of(make_registration(revoked, ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_CARD_REVOKED


def test_crl_must_be_the_cas_and_current(ca: ca_lib.Authority, other_ca: ca_lib.Authority,
                                         card: Card) -> None:
    req = make_registration(card, ELECTION, VOTER)
    forged = CardAuthority.from_pem(ca.cert_pem(), ca_lib.make_crl(other_ca, {}, NOW))
    assert code_of(req, forged) == ErrorCode.ELIGIBILITY_CRL_INVALID
    stale = CardAuthority.from_pem(ca.cert_pem(), ca_lib.make_crl(ca, {}, NOW - timedelta(days=31)))
    assert code_of(req, stale) == ErrorCode.ELIGIBILITY_CRL_INVALID
    future = CardAuthority.from_pem(ca.cert_pem(), ca_lib.make_crl(ca, {}, NOW + timedelta(days=1)))
    assert code_of(req, future) == ErrorCode.ELIGIBILITY_CRL_INVALID


def test_wrong_key_usage(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    auth_only = make_card(ca, 3001, signing=False)
    assert code_of(make_registration(auth_only, ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_WRONG_KEY_USAGE


def test_wrong_election(card: Card, authority: CardAuthority) -> None:
    req = make_registration(card, ELECTION, VOTER)
    assert code_of(req, authority, election=bytes(32)) == ErrorCode.ELIGIBILITY_WRONG_ELECTION


def test_small_rsa_key_is_refused(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")]))
            .issuer_name(ca.certificate.subject).public_key(key.public_key())
            .serial_number(4001).not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
            .sign(ca.key, hashes.SHA256()))
    req = make_registration(Card(der(cert), key), ELECTION, VOTER)
    assert code_of(req, authority) == ErrorCode.ELIGIBILITY_MALFORMED


def test_malformed_certificate_and_keys(card: Card, authority: CardAuthority) -> None:
    req = make_registration(card, ELECTION, VOTER)
    broken = CardRegistration(req.election_id, req.voter_public, req.certificate[:-10], req.signature)
    assert code_of(broken, authority) == ErrorCode.ELIGIBILITY_MALFORMED
    short = CardRegistration(req.election_id, req.voter_public[:31], req.certificate, req.signature)
    assert code_of(short, authority) == ErrorCode.ELIGIBILITY_MALFORMED


def test_request_json_roundtrip_and_damage(card: Card) -> None:
    req = make_registration(card, ELECTION, VOTER)
    assert CardRegistration.from_json(req.to_json()) == req
    doc = json.loads(req.to_json())
    for field, value in [("type", "x"), ("version", 2), ("signature", "zz"), ("signature", 5),
                         ("certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n"),
                         ("voter_public", "")]:
        bad = dict(doc, **{field: value})
        with pytest.raises(EligibilityError) as ei:
            CardRegistration.from_json(json.dumps(bad))
        assert ei.value.code == ErrorCode.ELIGIBILITY_MALFORMED


@given(st.one_of(st.text(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=6),
    max_leaves=12).map(json.dumps)))
def test_any_garbage_request_is_malformed_never_a_crash(text: str) -> None:
    with pytest.raises(EligibilityError) as ei:
        CardRegistration.from_json(text)
    assert ei.value.code == ErrorCode.ELIGIBILITY_MALFORMED


def test_card_file_and_pin(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    cert, key = ca_lib.issue_card(ca, 5001, "Hanako", NOW - timedelta(days=1),
                                  NOW + timedelta(days=10), "ec")
    p12 = ca_lib.card_p12(cert, key, "Hanako", b"123456")
    card = load_card(p12, b"123456")
    assert card.serial == 5001 and "Hanako" not in repr(card)
    assert len(check(make_registration(card, ELECTION, VOTER), authority)) == 32
    for pin in (b"000000", None):
        with pytest.raises(EligibilityError) as ei:
            load_card(p12, pin)
        assert ei.value.code == ErrorCode.ELIGIBILITY_MALFORMED
    with pytest.raises(EligibilityError):
        load_card(b"not a card")
