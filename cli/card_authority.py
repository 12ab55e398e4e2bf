"""A test card authority (CA) for demos and tests, shaped like My Number Card's JPKI.

The real card authority (J-LIS for My Number Card) issues each card a signing
certificate (RSA 2048, key usage digitalSignature + nonRepudiation) and publishes
a certificate revocation list. This module makes the same objects with the
``cryptography`` library so that the registrar's checks in
``ballot_tx.eligibility.idcard`` run against real X.509, not mocks.

Everything here is bytes in, bytes out, with the time passed in; the
``card-authority`` commands (``cli/card_authority_cmd.py``) do the file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ballot_tx.eligibility.idcard import CardKey

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


def issue_card(ca: Authority, serial: int, name: str, not_before: datetime,
               not_after: datetime, key_type: str = "rsa",
               signing: bool = True) -> tuple[x509.Certificate, CardKey]:
    """A card's signing certificate and key. ``signing=False`` makes an
    authentication-only certificate (keyEncipherment), which must not register."""
    if serial <= 0:
        raise ValueError("a card serial must be a positive integer")
    key = _new_key(key_type)
    usage = x509.KeyUsage(digital_signature=signing, content_commitment=signing,
                          key_encipherment=not signing, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder()
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
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(ca.certificate.subject)
         .last_update(now - timedelta(minutes=5))
         .next_update(now + validity))
    for serial, when in sorted(revoked.items()):
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
                                      .serial_number(serial).revocation_date(when).build())
    return b.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def revoked_serials(crl_pem: bytes) -> dict[int, datetime]:
    crl = x509.load_pem_x509_crl(crl_pem)
    return {r.serial_number: r.revocation_date_utc for r in crl}
