"""Real X.509 certificates for chain-trust attacks, built with cryptography (no mocks)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mintloom.provenance.keys import LocalSigner
from mintloom.provenance.log import SignedCheckpoint

NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(sign, False, False, False, False, ca, ca, False, False)


def issue(
    subject: str,
    issuer: Issued | None,
    *,
    ca: bool,
    path_length: int | None = None,
    sign: bool = True,
    ekus: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=30),
    issuer_name: str | None = None,
    eku_critical: bool = False,
) -> Issued:
    """A certificate for ``subject`` signed by ``issuer`` (self-signed when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signer_key = key if issuer is None else issuer.key
    issuer_subject = (
        name(issuer_name) if issuer_name else (name(subject) if issuer is None else issuer.cert.subject)
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(usage(sign=sign, ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not ca and ekus:
        b = b.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=eku_critical)
    if issuer is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issued(key, b.sign(signer_key, hashes.SHA256()))


def resign(cp: SignedCheckpoint, key: ec.EllipticCurvePrivateKey, chain_pem: bytes) -> SignedCheckpoint:
    """The same checkpoint, signed by ``key`` and presenting ``chain_pem``: what a forger sends."""
    sig = LocalSigner(key, chain_pem).sign(cp.note.encode())
    return cp.model_copy(
        update={"signature": base64.b64encode(sig).decode(), "signer_chain": chain_pem.decode()}
    )
