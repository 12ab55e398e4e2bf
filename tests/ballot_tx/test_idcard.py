"""ID-card eligibility (My Number Card model): every check, against real X.509."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.codec import encode
from ballot_tx.eligibility.idcard import (
    JPKI_BIRTH_DATE_OID,
    JPKI_NAME_OID,
    Card,
    CardAuthority,
    CardIdentity,
    CardRegistration,
    _der_string,
    card_tag,
    card_tag_key,
    der_utf8,
    load_card,
    make_registration,
    normalize_birth_date,
    normalize_name,
    verify_registration,
)
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import EligibilityError, ErrorCode, TxError
from ballot_tx.state.execute import check_tx
from cli import card_authority as ca_lib
from tests.ballot_tx.state.helpers import REGISTRAR, kp
from tests.ballot_tx.state.world import World

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ELECTION = bytes(range(32))
VOTER = bytes([7]) * 32
TAG_KEY = card_tag_key(b"\x01" * 32)


def der(cert: object) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)  # type: ignore[attr-defined]


BORN = date(1985, 4, 1)


def make_card(ca: ca_lib.Authority, serial: int, *, key_type: str = "ec",
              start: datetime = NOW - timedelta(days=365),
              end: datetime = NOW + timedelta(days=365), signing: bool = True,
              name: str = "筑波 太郎", born: date | None = BORN, address: str | None = None) -> Card:
    cert, key = ca_lib.issue_card(ca, serial, name, start, end, key_type, signing,
                                  birth_date=born, address=address)
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
    other_person = make_card(ca, 1003, name="筑波 次郎")
    assert check(make_registration(other_person, ELECTION, VOTER), authority) != tag
    election2 = bytes(32)
    assert check(make_registration(card, election2, VOTER), authority, election=election2) != tag
    assert check(req, authority, tag_key=card_tag_key(b"\x02" * 32)) != tag


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20),
       st.dates(date(1900, 1, 1), date(2025, 12, 31)))
def test_card_tag_is_injective_on_name_and_birth_date(n1: str, n2: str, born: date) -> None:
    d = f"{born:%Y%m%d}"
    t1 = card_tag(TAG_KEY, ELECTION, CardIdentity(n1, d))
    assert t1 == card_tag(TAG_KEY, ELECTION, CardIdentity(n1, d))
    if n1 != n2:
        assert card_tag(TAG_KEY, ELECTION, CardIdentity(n2, d)) != t1
    # Length-prefixed fields: moving a character from the name into the date changes the tag.
    assert card_tag(TAG_KEY, ELECTION, CardIdentity(n1 + d[0], d[1:])) != t1


# --- one person, one registration (issue 11 item 7) ----------------------------------


def tag_of(card: Card, authority: CardAuthority) -> bytes:
    return check(make_registration(card, ELECTION, VOTER), authority)


def test_reissued_card_has_the_same_tag(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    """Renewal, loss or a change of address re-issues the signing certificate with a new
    serial (here also a new key and address): it is the same person, so the same tag."""
    first = make_card(ca, 7001, address="茨城県つくば市吾妻1-1", key_type="rsa")
    moved = make_card(ca, 7002, address="茨城県つくば市竹園2-2")
    renewed = make_card(ca, 7003, start=NOW - timedelta(days=1), end=NOW + timedelta(days=3650))
    assert tag_of(first, authority) == tag_of(moved, authority) == tag_of(renewed, authority)


def test_name_is_compared_normalised(ca: ca_lib.Authority, authority: CardAuthority) -> None:
    base = tag_of(make_card(ca, 7101, name="Hanako Tsukuba"), authority)
    for variant in ("HANAKO  TSUKUBA", " hanako\u3000tsukuba ", "Ｈａｎａｋｏ Ｔｓｕｋｕｂａ"):
        assert tag_of(make_card(ca, 7102, name=variant), authority) == base, variant
    assert normalize_name("筑波\u3000太郎") == normalize_name("筑波 太郎") == "筑波 太郎"
    assert tag_of(make_card(ca, 7103, name="Hanako Tsukuba-Sato"), authority) != base


def test_namesakes_born_on_other_days_are_different_people(ca: ca_lib.Authority,
                                                           authority: CardAuthority) -> None:
    a = tag_of(make_card(ca, 7201, born=date(1970, 1, 1)), authority)
    b = tag_of(make_card(ca, 7202, born=date(1970, 1, 2)), authority)
    c = tag_of(make_card(ca, 7203, born=date(1971, 1, 1)), authority)
    assert len({a, b, c}) == 3


def test_birth_date_forms() -> None:
    assert normalize_birth_date("419900102") == normalize_birth_date("19900102") == "19900102"
    assert ca_lib.jpki_birth_date(date(1990, 1, 2)) == "419900102"  # Heisei
    assert ca_lib.jpki_birth_date(date(1989, 1, 7)) == "319890107"  # last day of Showa
    assert ca_lib.jpki_birth_date(date(2019, 5, 1)) == "520190501"  # Reiwa
    assert normalize_birth_date("519800000") == "19800000"  # unknown month and day, as registered
    for bad in ("", "1990-01-02", "619900102", "19900230", "19901301", "19900002", "17000101",
                "１９９００１０２", "4199001020"):
        with pytest.raises(ValueError):
            normalize_birth_date(bad)


def identity_card(ca: ca_lib.Authority, serial: int, others: list[x509.GeneralName] | None) -> Card:
    """A signing card whose subjectAltName holds exactly ``others`` (None: no extension)."""
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
         .issuer_name(ca.certificate.subject).public_key(key.public_key())
         .serial_number(serial).not_valid_before(NOW - timedelta(days=1))
         .not_valid_after(NOW + timedelta(days=1))
         .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                        critical=True))
    if others is not None:
        b = b.add_extension(x509.SubjectAlternativeName(others), critical=False)
    return Card(der(b.sign(ca.key, hashes.SHA256())), key)


def test_certificate_without_the_identity_is_refused(ca: ca_lib.Authority,
                                                     authority: CardAuthority) -> None:
    name = x509.OtherName(JPKI_NAME_OID, der_utf8("筑波 太郎"))
    born = x509.OtherName(JPKI_BIRTH_DATE_OID, der_utf8("419900102"))
    cases: dict[str, list[x509.GeneralName] | None] = {
        "no subjectAltName": None,
        "only an e-mail": [x509.RFC822Name("taro@example.jp")],
        "no date of birth": [name],
        "no name": [born],
        "two names": [name, x509.OtherName(JPKI_NAME_OID, der_utf8("筑波 次郎")), born],
        "two dates": [name, born, x509.OtherName(JPKI_BIRTH_DATE_OID, der_utf8("19900103"))],
        "empty name": [x509.OtherName(JPKI_NAME_OID, der_utf8(" \u3000 ")), born],
        "impossible date": [name, x509.OtherName(JPKI_BIRTH_DATE_OID, der_utf8("419900230"))],
        "name not a string": [x509.OtherName(JPKI_NAME_OID, b"\x02\x01\x05"), born],
        "bad UTF-8": [x509.OtherName(JPKI_NAME_OID, b"\x0c\x02\xff\xfe"), born],
    }
    for serial, (why, others) in enumerate(cases.items(), start=7300):
        req = make_registration(identity_card(ca, serial, others), ELECTION, VOTER)
        assert code_of(req, authority) == ErrorCode.ELIGIBILITY_NO_IDENTITY, why
    assert code_of(make_registration(make_card(ca, 7399, born=None), ELECTION, VOTER), authority) == \
        ErrorCode.ELIGIBILITY_NO_IDENTITY
    # The same builder with both fields registers: the refusals above are about the fields.
    assert len(tag_of(identity_card(ca, 7398, [name, born]), authority)) == 32


def test_der_string_is_strict() -> None:
    # cryptography refuses to build a certificate with malformed DER in an otherName, so
    # the reader's own strictness is tested directly.
    for text in ("", "筑波 太郎", "x" * 127, "y" * 128, "z" * 300):
        assert _der_string(der_utf8(text)) == text
    assert _der_string(b"\x13\x09419900102") == "419900102"  # PrintableString
    for bad in (b"", b"\x0c", b"\x0c\x05ab", b"\x0c\x01ab", b"\x0c\x81\x02ab",
                b"\x0c\x82\x00\x02ab", b"\x0c\x83\x00\x00\x02ab", b"\x04\x02ab",
                b"\x0c\x02\xff\xfe", b"\x13\x02\xe3\x81"):
        with pytest.raises((ValueError, UnicodeDecodeError)):
            _der_string(bad)


def test_reissued_card_cannot_register_twice_on_chain(ca: ca_lib.Authority,
                                                      authority: CardAuthority) -> None:
    """The registrar's tags, through the state machine: the re-issued card of a person
    already registered is refused with TX_CARD_TAG_USED; a namesake born on another day
    registers."""
    w = World()
    e = w.create(w.manifest())
    key = card_tag_key(REGISTRAR.ed25519_seed)

    def entry(card: Card, voter: int) -> KeyEntry:
        v = kp("card-voter", voter).ed25519_public
        ok = verify_registration(make_registration(card, e.eid, v), authority, NOW, e.eid, key)
        return KeyEntry(v, ok.tag)

    w.run(w.tx(REGISTRAR, RegisterKeys(e.eid, (entry(make_card(ca, 8001), 1),))))
    reissued = make_card(ca, 8002, address="新しい住所")
    bad = encode(w.tx(REGISTRAR, RegisterKeys(e.eid, (entry(reissued, 2),))))
    with pytest.raises(TxError) as ei:
        check_tx(w.chain.state, bad, w.chain.next_time())
    assert ei.value.code == ErrorCode.TX_CARD_TAG_USED
    namesake = make_card(ca, 8003, born=date(1986, 4, 1))
    w.run(w.tx(REGISTRAR, RegisterKeys(e.eid, (entry(namesake, 3),))))
    assert w.chain.state.voter(e.eid, kp("card-voter", 3).ed25519_public) is not None
    assert w.chain.state.voter(e.eid, kp("card-voter", 2).ed25519_public) is None


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
                                  NOW + timedelta(days=10), "ec", birth_date=BORN)
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
