"""A test card authority (CA) for demos and tests, shaped like My Number Card's JPKI.

The real card authority (J-LIS for My Number Card) issues each card a signing
certificate (RSA 2048, key usage digitalSignature + nonRepudiation) and publishes
a certificate revocation list. This module makes the same objects with the
``cryptography`` library so that the registrar's checks in
``ballot_tx.eligibility.idcard`` run against real X.509, not mocks.

Like a JPKI signing certificate, a card carries the holder's name, date of birth
(``EYYYYMMDD``: era digit, then the Gregorian date) and, if given, address as
subjectAltName otherNames under J-LIS's arc ``1.2.392.200149.8.5.5`` (UTF8String);
the registrar keys its one-person-one-registration tag on the name and date of birth.
Our subject CN is the holder's name too, for readability (JPKI's is an opaque id).

Everything here is bytes in, bytes out, with the time passed in; the
``card-authority`` commands (``cli/card_authority_cmd.py``) do the file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ballot_tx.eligibility.idcard import (
    JPKI_ADDRESS_OID,
    JPKI_BIRTH_DATE_OID,
    JPKI_NAME_OID,
    CardKey,
    der_utf8,
)

DEFAULT_CA_NAME = "Ballotchain Test Card Authority"
#: A CRL is current for this long; the registrar refuses an older one.
CRL_VALIDITY = timedelta(days=30)


@dataclass(frozen=True, repr=False)
class Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @staticmethod
    def from_pem(cert_pem: bytes, key_pem: bytes) -> Authority:
        key = serialization.load_pem_private_key(key_pem, None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("card authority key must be RSA or ECDSA")
        return Authority(x509.load_pem_x509_certificate(cert_pem), key)


def _new_key(key_type: str) -> CardKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {key_type!r} (rsa or ec)")


def new_authority(now: datetime, name: str = DEFAULT_CA_NAME, days: int = 3650,
                  key_type: str = "ec") -> Authority:
    """A self-signed CA certificate allowed to sign certificates and CRLs."""
    key = _new_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ballotchain test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(cert, key)


#: First day of each Japanese era (Meiji 1 ... Reiwa 5), for JPKI's era digit.
_ERAS = ((date(2019, 5, 1), 5), (date(1989, 1, 8), 4), (date(1926, 12, 25), 3),
         (date(1912, 7, 30), 2))


def jpki_birth_date(d: date) -> str:
    """``EYYYYMMDD`` as in a JPKI certificate: the era digit, then the Gregorian date."""
    era = next((n for start, n in _ERAS if d >= start), 1)
    return f"{era}{d:%Y%m%d}"


def identity_names(name: str, birth_date: date, address: str | None = None) -> list[x509.GeneralName]:
    """The JPKI subjectAltName otherNames for a holder."""
    out: list[x509.GeneralName] = [
        x509.OtherName(JPKI_NAME_OID, der_utf8(name)),
        x509.OtherName(JPKI_BIRTH_DATE_OID, der_utf8(jpki_birth_date(birth_date))),
    ]
    if address:
        out.append(x509.OtherName(JPKI_ADDRESS_OID, der_utf8(address)))
    return out


def issue_card(ca: Authority, serial: int, name: str, not_before: datetime,
               not_after: datetime, key_type: str = "rsa",
               signing: bool = True, *, birth_date: date | None,
               address: str | None = None) -> tuple[x509.Certificate, CardKey]:
    """A card's signing certificate and key. ``signing=False`` makes an
    authentication-only certificate (keyEncipherment), which must not register.
    ``birth_date=None`` leaves out the holder's identity (tests: it must not register)."""
    if serial <= 0:
        raise ValueError("a card serial must be a positive integer")
    key = _new_key(key_type)
    usage = x509.KeyUsage(digital_signature=signing, content_commitment=signing,
                          key_encipherment=not signing, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    builder = x509.CertificateBuilder()
    if birth_date is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(identity_names(name, birth_date, address)), critical=False)
    cert = (builder
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return cert, key


def card_p12(cert: x509.Certificate, key: CardKey, name: str, pin: bytes | None) -> bytes:
    """The card as a PKCS#12 container; the PIN, if given, is its password."""
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(pin) if pin else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, enc)


def make_crl(ca: Authority, revoked: dict[int, datetime], now: datetime,
             validity: timedelta = CRL_VALIDITY) -> bytes:
    """A CRL (PEM) signed by the CA listing ``revoked`` (serial -> revocation time)."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca.certificate.subject)
               .last_update(now - timedelta(minutes=5))
               .next_update(now + validity))
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def revoked_serials(crl_pem: bytes) -> dict[int, datetime]:
    crl = x509.load_pem_x509_crl(crl_pem)
    return {r.serial_number: r.revocation_date_utc for r in crl}
