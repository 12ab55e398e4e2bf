"""ID-card eligibility, the off-chain half (My Number Card / JPKI model).

A card holds an X.509 signing certificate and its private key, issued by a card
authority (CA). To register, the voter makes a pseudonymous Ed25519 key and
signs ``registration_message(election_id, voter_public)`` with the card. The
registrar checks, in this order (the first failure is the error reported):

1. the request and certificate parse                      ELIGIBILITY_MALFORMED
2. the signature is for this election                     ELIGIBILITY_WRONG_ELECTION
3. the certificate is directly issued by the configured
   card authority (issuer name and CA signature)          ELIGIBILITY_WRONG_CA
4. it is a signing certificate (digitalSignature, not CA)  ELIGIBILITY_WRONG_KEY_USAGE
5. it carries exactly one holder name and date of birth   ELIGIBILITY_NO_IDENTITY
6. ``now`` lies within its validity dates                 ELIGIBILITY_CARD_NOT_YET_VALID / _EXPIRED
7. the CRL is the CA's own and current, and does not
   list the card's serial                                 ELIGIBILITY_CRL_INVALID / _CARD_REVOKED
8. the card signature over the message verifies           ELIGIBILITY_BAD_SIGNATURE

and then registers ``voter_public`` on chain with ``card_tag(...)``: a BLAKE2b
hash of the holder's normalised name and date of birth, keyed with a secret only
the registrar holds, and bound to the election. The chain refuses a second
registration with the same tag in one election, so a person registers once even
with a re-issued card (renewal, loss, change of address: new serial, same person);
without the key nobody can link a tag to a person, and no name, date or serial
reaches the chain. Binding the tag to the election also keeps one voter's
registrations in different elections unlinkable.

Where the identity is read: a JPKI signing certificate (J-LIS profile) carries the
holder's "basic four" data as subjectAltName ``otherName`` entries under the arc
``1.2.392.200149.8.5.5`` (``.1`` name, ``.3`` gender, ``.4`` date of birth as
``EYYYYMMDD``, era digit then the Gregorian date, ``.5`` address); the subject CN is
an opaque identifier. We read ``.1`` and ``.4`` only: gender and address can change
(a changed address is exactly what re-issues a card), the name and birth date
rarely do. Limits (docs/security.md): two people with the same normalised
name and date of birth share a tag (the second cannot register by card); a legal
name change makes a new tag.

Pure: bytes in, bytes out; the time is an argument. X.509, RSA and ECDSA come
from the ``cryptography`` library, never hand-written.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from ballot_tx.codec import domain, hash_bytes
from ballot_tx.errors import EligibilityError, ErrorCode

REQUEST_TYPE = "ballotchain-card-registration"
REQUEST_VERSION = 1
#: Smallest RSA modulus accepted from a card (JPKI cards use 2048-bit RSA).
MIN_RSA_BITS = 2048
#: BLAKE2b personalisation of the card tag (v2: over the holder's identity, not the serial).
TAG_PERSON = b"bc/v2/card-tag"
#: J-LIS otherName OIDs in a JPKI signing certificate's subjectAltName (module doc).
JPKI_NAME_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
JPKI_GENDER_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
JPKI_BIRTH_DATE_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
JPKI_ADDRESS_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")

CardKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _err(code: ErrorCode, message: str) -> EligibilityError:
    return EligibilityError(code, message)


def registration_message(election_id: bytes, voter_public: bytes) -> bytes:
    """The exact bytes a card signs: the voter's pseudonymous key for one election."""
    if len(election_id) != 32 or len(voter_public) != 32:
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                   "the election id and the voter key must be 32 bytes each")
    return domain("idcard/registration") + election_id + voter_public


# --- the voter's side ---------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Card:
    """A card's certificate (DER) and private key, as read from its PKCS#12 container."""

    certificate: bytes
    key: CardKey

    @property
    def serial(self) -> int:
        return x509.load_der_x509_certificate(self.certificate).serial_number

    def __repr__(self) -> str:
        return f"Card(serial={self.serial})"


def load_card(p12: bytes, pin: bytes | None = None) -> Card:
    """Open a card's PKCS#12 container (the PIN is its password, if it has one)."""
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(p12, pin)
    except ValueError as e:
        wrong_pin = "password" in str(e).lower() or "mac" in str(e).lower()
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                   "the card PIN is wrong or missing" if wrong_pin
                   else "the card file is not a PKCS#12 card") from None
    if cert is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                   "the card file must hold one RSA or ECDSA key and its certificate")
    return Card(cert.public_bytes(serialization.Encoding.DER), key)


def card_sign(card: Card, election_id: bytes, voter_public: bytes) -> bytes:
    """Sign the registration message with the card: RSA PKCS#1 v1.5 or ECDSA, SHA-256."""
    msg = registration_message(election_id, voter_public)
    if isinstance(card.key, rsa.RSAPrivateKey):
        return card.key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    return card.key.sign(msg, ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True)
class CardRegistration:
    """What the voter hands the registrar (as a JSON file): no secret inside."""

    election_id: bytes
    voter_public: bytes
    certificate: bytes  # DER
    signature: bytes

    def to_json(self) -> str:
        cert = x509.load_der_x509_certificate(self.certificate)
        return json.dumps({
            "type": REQUEST_TYPE,
            "version": REQUEST_VERSION,
            "election_id": self.election_id.hex(),
            "voter_public": self.voter_public.hex(),
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "signature": self.signature.hex(),
        }, indent=2) + "\n"

    @staticmethod
    def from_json(text: str) -> CardRegistration:
        try:
            doc = json.loads(text)
        except ValueError:
            raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                       "the registration request is not JSON") from None
        if not isinstance(doc, dict) or doc.get("type") != REQUEST_TYPE:
            raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                       f"the registration request lacks type {REQUEST_TYPE!r}")
        if doc.get("version") != REQUEST_VERSION:
            raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                       f"unsupported registration request version {doc.get('version')!r}")
        fields: dict[str, bytes] = {}
        for name in ("election_id", "voter_public", "signature"):
            value = doc.get(name)
            try:
                fields[name] = bytes.fromhex(value) if isinstance(value, str) else b""
            except ValueError:
                fields[name] = b""
            if not fields[name]:
                raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                           f"field {name!r} of the registration request must be hex")
        pem = doc.get("certificate")
        try:
            if not isinstance(pem, str):
                raise ValueError
            der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(
                serialization.Encoding.DER)
        except ValueError:
            raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                       "field 'certificate' is not a PEM X.509 certificate") from None
        return CardRegistration(fields["election_id"], fields["voter_public"], der,
                                fields["signature"])


def make_registration(card: Card, election_id: bytes, voter_public: bytes) -> CardRegistration:
    return CardRegistration(election_id, voter_public, card.certificate,
                            card_sign(card, election_id, voter_public))


# --- the registrar's side -----------------------------------------------------


@dataclass(frozen=True)
class CardAuthority:
    """The registrar's trust configuration: the CA certificate and its current CRL (DER)."""

    certificate: bytes
    crl: bytes

    @staticmethod
    def from_pem(ca_pem: bytes, crl_pem: bytes) -> CardAuthority:
        try:
            ca = x509.load_pem_x509_certificate(ca_pem)
        except ValueError:
            raise _err(ErrorCode.ELIGIBILITY_WRONG_CA,
                       "the card authority certificate is not PEM X.509") from None
        try:
            crl = x509.load_pem_x509_crl(crl_pem)
        except ValueError:
            raise _err(ErrorCode.ELIGIBILITY_CRL_INVALID,
                       "the revocation list is not a PEM X.509 CRL") from None
        return CardAuthority(ca.public_bytes(serialization.Encoding.DER),
                             crl.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class VerifiedCard:
    """A request that passed every check: what goes on chain (no name, no date, no serial)."""

    election_id: bytes
    voter_public: bytes
    tag: bytes


def card_tag_key(registrar_seed: bytes) -> bytes:
    """The registrar's tag key, derived from its Ed25519 seed (so it lives in its key file)."""
    return hash_bytes("registrar/card-tag-key", registrar_seed)


# --- the holder's identity -------------------------------------------------------


@dataclass(frozen=True, repr=False)
class CardIdentity:
    """The stable identity a card certificate vouches for, normalised (never logged)."""

    name: str  # normalize_name()
    birth_date: str  # YYYYMMDD

    def __repr__(self) -> str:
        return "CardIdentity(...)"


def normalize_name(name: str) -> str:
    """Unicode NFKC (full-width letters and the ideographic space fold to their plain
    forms), whitespace runs collapsed to one space, case-folded (Latin, Greek, ...;
    kanji and kana have no case). The same person's name as written on two cards then
    compares equal even if one was typed with a full-width space or in capitals."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def normalize_birth_date(value: str) -> str:
    """``YYYYMMDD`` from JPKI's ``EYYYYMMDD`` (era digit 1-5, then the Gregorian date)
    or a plain ``YYYYMMDD``. Month and day ``00`` (unknown, as registered) are kept as
    written; any other impossible date raises ``ValueError``."""
    if len(value) == 9 and value[0] in "12345":
        value = value[1:]
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise ValueError("a date of birth must be EYYYYMMDD or YYYYMMDD")
    y, m, d = int(value[:4]), int(value[4:6]), int(value[6:])
    if y < 1800 or m > 12 or (m == 0 and d != 0):
        raise ValueError(f"{value} is not a date of birth")
    if m and d:
        date(y, m, d)  # ValueError for 20230230
    return value


def _der_string(value: bytes) -> str:
    """The text of one DER UTF8String (or PrintableString) TLV, exactly, strictly.

    An otherName value is raw DER and ``cryptography`` has no public decoder for it;
    one primitive TLV does not justify a general ASN.1 dependency.
    """
    if len(value) < 2 or value[0] not in (0x0C, 0x13):
        raise ValueError("not a UTF8String")
    n, i = value[1], 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 2 or len(value) < 2 + k:
            raise ValueError("bad DER length")
        n, i = int.from_bytes(value[2 : 2 + k], "big"), 2 + k
        if n < 0x80 or (k == 2 and n < 0x100):
            raise ValueError("non-minimal DER length")
    if len(value) != i + n:
        raise ValueError("DER length does not match")
    return value[i:].decode("utf-8" if value[0] == 0x0C else "ascii")


def der_utf8(text: str) -> bytes:
    """DER UTF8String of ``text`` (for card authorities that write the JPKI fields)."""
    body = text.encode()
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x10000:
        k = 1 if n < 0x100 else 2
        head = bytes([0x80 | k]) + n.to_bytes(k, "big")
    else:
        raise ValueError("too long for a certificate field")
    return b"\x0c" + head + body


def card_identity(cert: x509.Certificate) -> CardIdentity:
    """The holder's name and date of birth from the JPKI subjectAltName otherNames.

    ELIGIBILITY_NO_IDENTITY unless there is exactly one of each, readable, and the name
    is not empty after normalisation.
    """
    def missing(why: str) -> EligibilityError:
        return _err(ErrorCode.ELIGIBILITY_NO_IDENTITY,
                    f"the card certificate {why}; a JPKI signing certificate carries the "
                    "holder's name and date of birth")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise missing("has no subject alternative name") from None
    found: dict[x509.ObjectIdentifier, list[bytes]] = {JPKI_NAME_OID: [], JPKI_BIRTH_DATE_OID: []}
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id in found:
            found[other.type_id].append(other.value)
    names, dates = found[JPKI_NAME_OID], found[JPKI_BIRTH_DATE_OID]
    if len(names) != 1 or len(dates) != 1:
        raise missing("does not carry exactly one holder name and one date of birth")
    try:
        name = normalize_name(_der_string(names[0]))
        birth = normalize_birth_date(_der_string(dates[0]))
    except (ValueError, UnicodeDecodeError) as e:
        raise missing(f"has an unreadable name or date of birth ({e})") from None
    if not name:
        raise missing("has an empty holder name")
    return CardIdentity(name, birth)


def card_tag(tag_key: bytes, election_id: bytes, identity: CardIdentity) -> bytes:
    """BLAKE2b-256 keyed with the registrar's secret over (election, name, date of birth),
    each length-prefixed. Not over the issuer or the serial: a re-issued card (new
    serial, possibly a new CA key) of the same person must give the same tag."""
    if len(tag_key) != 32:
        raise ValueError("the tag key must be 32 bytes")
    h = hashlib.blake2b(key=tag_key, digest_size=32, person=TAG_PERSON)
    for part in (election_id, identity.name.encode(), identity.birth_date.encode()):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest()


def _verify_signature(key: object, signature: bytes, data: bytes) -> bool:
    """True iff ``signature`` by ``key`` over ``data`` verifies (RSA PKCS#1 v1.5 or ECDSA, SHA-256)."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_dates(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise _err(ErrorCode.ELIGIBILITY_CARD_NOT_YET_VALID,
                   f"{what} is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if now > cert.not_valid_after_utc:
        raise _err(ErrorCode.ELIGIBILITY_CARD_EXPIRED,
                   f"{what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def verify_registration(req: CardRegistration, authority: CardAuthority, now: datetime,
                        election_id: bytes, tag_key: bytes) -> VerifiedCard:
    """Check a registration request completely (see the module docstring for the order)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # 1. well-formed
    if len(req.voter_public) != 32:
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED, "the voter public key must be 32 bytes")
    if len(req.election_id) != 32:
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED, "the election id must be 32 bytes")
    try:
        cert = x509.load_der_x509_certificate(req.certificate)
        cert_key = cert.public_key()
        _ = cert.extensions
    except (ValueError, x509.UnsupportedGeneralNameType) as e:
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                   f"the card certificate cannot be parsed ({e})") from None
    if isinstance(cert_key, rsa.RSAPublicKey):
        if cert_key.key_size < MIN_RSA_BITS:
            raise _err(ErrorCode.ELIGIBILITY_MALFORMED,
                       f"the card's RSA key has {cert_key.key_size} bits, "
                       f"fewer than {MIN_RSA_BITS}")
    elif not isinstance(cert_key, ec.EllipticCurvePublicKey):
        raise _err(ErrorCode.ELIGIBILITY_MALFORMED, "the card key is neither RSA nor ECDSA")
    # 2. this election
    if req.election_id != election_id:
        raise _err(ErrorCode.ELIGIBILITY_WRONG_ELECTION,
                   f"the card signed for election {req.election_id.hex()[:16]}..., "
                   f"not {election_id.hex()[:16]}...")
    # 3. issued by the configured card authority
    ca = x509.load_der_x509_certificate(authority.certificate)
    if not _is_ca(ca):
        raise _err(ErrorCode.ELIGIBILITY_WRONG_CA,
                   "the configured card authority certificate is not a CA certificate")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise _err(ErrorCode.ELIGIBILITY_WRONG_CA,
                   f"the card was issued by {cert.issuer.rfc4514_string()!r}, "
                   f"not by the card authority {ca.subject.rfc4514_string()!r}") from None
    _check_dates(ca, now, "the card authority certificate")
    # 4. a signing certificate
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise _err(ErrorCode.ELIGIBILITY_WRONG_KEY_USAGE,
                   "the card certificate has no key usage extension") from None
    if not usage.digital_signature or _is_ca(cert):
        raise _err(ErrorCode.ELIGIBILITY_WRONG_KEY_USAGE,
                   "the card certificate is not allowed to make digital signatures")
    # 5. the holder's identity (only now: it is read from a certificate the CA signed)
    identity = card_identity(cert)
    # 6. validity dates
    _check_dates(cert, now, "the card certificate")
    # 7. revocation
    crl = x509.load_der_x509_crl(authority.crl)
    if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
        raise _err(ErrorCode.ELIGIBILITY_CRL_INVALID,
                   "the revocation list is not signed by the card authority")
    if now < crl.last_update_utc:
        raise _err(ErrorCode.ELIGIBILITY_CRL_INVALID,
                   f"the revocation list is dated {crl.last_update_utc:%Y-%m-%d %H:%M} UTC, "
                   "in the future")
    if crl.next_update_utc is None or now > crl.next_update_utc:
        raise _err(ErrorCode.ELIGIBILITY_CRL_INVALID,
                   f"the revocation list of {crl.last_update_utc:%Y-%m-%d} is out of date; "
                   "fetch the card authority's current one")
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        raise _err(ErrorCode.ELIGIBILITY_CARD_REVOKED,
                   f"the card was revoked on {revoked.revocation_date_utc:%Y-%m-%d}")
    # 8. the card's signature over the voter key
    msg = registration_message(req.election_id, req.voter_public)
    if not _verify_signature(cert_key, req.signature, msg):
        raise _err(ErrorCode.ELIGIBILITY_BAD_SIGNATURE,
                   "the card's signature over the voter key does not verify")
    return VerifiedCard(req.election_id, req.voter_public,
                        card_tag(tag_key, req.election_id, identity))
