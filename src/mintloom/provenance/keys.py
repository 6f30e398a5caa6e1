"""Identities: the organisation root CA, signer certificates, the chain account.

Layout under ``.mintloom/keys/`` (directory mode 0700, private files 0600)::

    ca.pem            root CA certificate (the trust anchor verifiers are given)
    ca.key.pem        its private key, PKCS#8 encrypted with the workspace key password
                      (PBES2 with scrypt N=2^17, r=8, p=1: :mod:`~mintloom.provenance.pkcs8`;
                      files with a weaker KDF are re-encrypted when they are first unlocked)
    signer.pem        current signer certificate chain (leaf, then CA)
    signer.key.pem    its private key, encrypted
    eth.json          Ethereum account, Web3 Secret Storage (keystore v3), same password
    keys.json         metadata (algorithm, organisation, fingerprints, rotation history)
    retired/          earlier signer certificates after `mintloom keys rotate`
    retired.crl.pem   CRL signed by the CA: every retired signer's serial and retirement time
                      (exported with the root by `mintloom keys trust-anchor`, honoured by `verify --trust`)

Signer certificates satisfy C2PA's profile: an end-entity (basicConstraints CA=false) with
digitalSignature key usage and the emailProtection EKU, issued by our CA, which has
keyCertSign and pathLen 0. Signing goes through the :class:`Signer` Protocol so an HSM or a
KMS callback can take the place of :class:`LocalSigner`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pydantic import BaseModel, ConfigDict, ValidationError

from mintloom.errors import CertificateChainError, KeyStoreError
from mintloom.logs import get_logger
from mintloom.provenance.pkcs8 import encrypt_pkcs8, kdf_of

_log = get_logger(__name__)

Alg = Literal["es256", "ed25519"]
ENV_PASSWORD = "MINTLOOM_KEY_PASSWORD"
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Signer(Protocol):
    """Signs C2PA claims and log checkpoints. ``sign`` returns a raw signature:
    r‖s (64 bytes) for ES256, the 64-byte signature for Ed25519."""

    @property
    def alg(self) -> Alg: ...

    @property
    def certificate_chain_pem(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalSigner:
    """A signer holding its private key in memory (loaded from the encrypted key store)."""

    key: PrivateKey
    chain_pem: bytes

    @property
    def alg(self) -> Alg:
        return "ed25519" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "es256"

    @property
    def certificate_chain_pem(self) -> bytes:
        return self.chain_pem

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw_signature(cert_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Check a raw signature made by :meth:`LocalSigner.sign` against the first certificate."""
    pub = _leaf_public_key(cert_pem)
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(signature, data)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=16)
def _leaf_public_key(cert_pem: bytes) -> CertificatePublicKeyTypes:
    """The first certificate's key, parsed once per chain: a signer's signature is checked on
    every asset it signs (a malformed chain raises, and is not cached)."""
    return x509.load_pem_x509_certificates(cert_pem)[0].public_key()


class ChainFailure(StrEnum):
    """Why a certificate chain was refused (``CertificateChainError.reason``)."""

    MALFORMED = "malformed"
    """Not a PEM chain of X.509 certificates."""
    UNTRUSTED = "untrusted"
    """No valid path of signatures leads from the leaf to the trusted root (a forged or foreign
    chain, or the genuine root merely appended to it)."""
    EXPIRED = "expired"
    """A certificate on the path was not valid at the time of signing."""
    WRONG_USAGE = "wrong-usage"
    """The leaf is a CA, or lacks digitalSignature key usage or a signing EKU."""
    NOT_A_CA = "not-a-ca"
    """A certificate used as an issuer is not a CA allowed to sign certificates."""
    RETIRED = "retired"
    """The leaf was retired by `mintloom keys rotate` before the time of signing."""


Retirements = Mapping[int, dt.datetime]
"""Retired signer certificates: serial number → time of retirement (signing at or after it is refused)."""


#: EKUs a signer certificate may carry under C2PA's profile (emailProtection, documentSigning).
SIGNER_EKUS = frozenset({ExtendedKeyUsageOID.EMAIL_PROTECTION, ObjectIdentifier("1.3.6.1.5.5.7.3.36")})
MAX_CHAIN_DEPTH = 4


def _refuse(reason: ChainFailure, message: str) -> CertificateChainError:
    return CertificateChainError(
        f"certificate chain refused ({reason}): {message}",
        reason=reason.value,
        hint="only signers issued by the organisation's root CA are trusted",
    )


def _load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise _refuse(ChainFailure.MALFORMED, str(exc)) from exc
    if not certs or len(certs) > MAX_CHAIN_DEPTH + 1:
        raise _refuse(ChainFailure.MALFORMED, f"{len(certs)} certificates")
    return certs


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_leaf_profile(leaf: x509.Certificate) -> None:
    bc, ku, eku = (_ext(leaf, k) for k in (x509.BasicConstraints, x509.KeyUsage, x509.ExtendedKeyUsage))
    if isinstance(bc, x509.BasicConstraints) and bc.ca:
        raise _refuse(ChainFailure.WRONG_USAGE, "the signing certificate is a CA")
    if not isinstance(ku, x509.KeyUsage) or not ku.digital_signature:
        raise _refuse(ChainFailure.WRONG_USAGE, "the signing certificate lacks digitalSignature key usage")
    if not isinstance(eku, x509.ExtendedKeyUsage) or not SIGNER_EKUS.intersection(eku):
        raise _refuse(ChainFailure.WRONG_USAGE, "the signing certificate has no signing EKU")


def _check_issuer_profile(cert: x509.Certificate) -> None:
    bc, ku = _ext(cert, x509.BasicConstraints), _ext(cert, x509.KeyUsage)
    if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
        raise _refuse(ChainFailure.NOT_A_CA, f"{cert.subject.rfc4514_string()} is not a CA")
    if not isinstance(ku, x509.KeyUsage) or not ku.key_cert_sign:
        raise _refuse(ChainFailure.NOT_A_CA, f"{cert.subject.rfc4514_string()} may not sign certificates")


def _check_validity(certs: list[x509.Certificate], at: dt.datetime) -> None:
    for cert in certs:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise _refuse(
                ChainFailure.EXPIRED,
                f"{cert.subject.rfc4514_string()} is valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {at:%Y-%m-%d %H:%M}",
            )


def _leaf_extensions(_policy: verification.Policy, _cert: x509.Certificate, ext: object) -> None:
    """Extension callback for the leaf: the profile was checked already; this keeps the library
    from demanding WebPKI's clientAuth EKU and subjectAltName."""


def _path_verifier(roots: list[x509.Certificate], at: dt.datetime) -> verification.ClientVerifier:
    crit = verification.Criticality.AGNOSTIC
    ee = (
        verification.ExtensionPolicy.permit_all()
        .require_present(x509.ExtendedKeyUsage, crit, _leaf_extensions)
        .require_present(x509.KeyUsage, crit, _leaf_extensions)
    )
    return (
        verification.PolicyBuilder()
        .store(verification.Store(roots))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
        .build_client_verifier()
    )


def verify_chain(
    chain_pem: bytes, trust_anchor_pem: str | bytes, at: dt.datetime, retired: Retirements | None = None
) -> x509.Certificate:
    """Validate a signer chain (leaf first) up to the trusted root(s) as of ``at``: every
    signature on the path, validity, CA basic constraints and path length, key usage and EKU,
    and that the leaf was not retired at ``at``.
    Returns the leaf; raises :class:`CertificateChainError` naming the failure."""
    certs = _load_chain(chain_pem)
    anchors = trust_anchor_pem.encode() if isinstance(trust_anchor_pem, str) else trust_anchor_pem
    roots = _load_chain(anchors)
    leaf, rest = certs[0], certs[1:]
    _check_leaf_profile(leaf)
    root_fps = {r.fingerprint(hashes.SHA256()) for r in roots}
    intermediates = [c for c in rest if c.fingerprint(hashes.SHA256()) not in root_fps]
    for cert in intermediates:
        _check_issuer_profile(cert)
    _check_validity([leaf, *intermediates], at)
    try:
        _path_verifier(roots, at).verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise _refuse(ChainFailure.UNTRUSTED, str(exc).split(" (encountered")[0]) from exc
    check_not_retired(leaf, at, retired or {})
    return leaf


def check_not_retired(leaf: x509.Certificate, at: dt.datetime, retired: Retirements) -> None:
    """Refuse a signature made with ``leaf`` at or after its retirement (a whole second that
    `rotate` waited for, so the old key's checkpoints from before it all claim earlier seconds)."""
    when = retired.get(leaf.serial_number)
    if when is not None and at >= when:
        raise _refuse(
            ChainFailure.RETIRED,
            f"{leaf.subject.rfc4514_string()} (serial {leaf.serial_number:x}) was retired at "
            f"{when:%Y-%m-%d %H:%M:%S}Z, not before {at:%Y-%m-%d %H:%M:%S}Z",
        )


def make_retirement_crl(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, retired: Retirements
) -> bytes:
    """A CRL (PEM) signed by the CA listing each retired signer with its retirement time: what
    lets a third party holding only the exported trust anchor honour rotations."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(ca_cert.not_valid_after_utc)
    )
    for serial, when in sorted(retired.items()):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(when)
            .add_extension(x509.CRLReason(x509.ReasonFlags.superseded), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


_CRL_BLOCK = re.compile(r"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----\n?", re.DOTALL)


def split_trust_bundle(pem: str) -> tuple[str, dict[int, dt.datetime]]:
    """Split a trust-anchor file into its certificates and the retirements its CRLs record. A CRL
    counts only if one of the file's root certificates signed it (else :class:`CertificateChainError`)."""
    crls = _CRL_BLOCK.findall(pem)
    certs_pem = _CRL_BLOCK.sub("", pem)
    roots = _load_chain(certs_pem.encode())
    retired: dict[int, dt.datetime] = {}
    for block in crls:
        try:
            crl = x509.load_pem_x509_crl(block.encode())
        except ValueError as exc:
            raise _refuse(ChainFailure.MALFORMED, f"unreadable retirement list: {exc}") from exc
        if not any(_crl_signed_by(crl, root) for root in roots):
            raise _refuse(ChainFailure.UNTRUSTED, "the retirement list is not signed by a trusted root")
        for entry in crl:
            retired[entry.serial_number] = entry.revocation_date_utc
    return certs_pem, retired


def _crl_signed_by(crl: x509.CertificateRevocationList, root: x509.Certificate) -> bool:
    pub = root.public_key()
    ok_type = isinstance(pub, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
    return ok_type and crl.issuer == root.subject and crl.is_signature_valid(pub)  # type: ignore[arg-type]


def _name(common_name: str, organisation: str, unit: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    if unit is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name(attrs)


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _new_key(alg: Alg) -> PrivateKey:
    return (
        ed25519.Ed25519PrivateKey.generate() if alg == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    )


def make_ca(organisation: str, days: int = 3650) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(f"{organisation} Content Credentials Root CA", organisation)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_signer(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    organisation: str,
    alg: Alg,
    days: int = 825,
    *,
    person: str | None = None,
    unit: str | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A signer certificate from the CA: the workspace's, or with ``person`` a person's (a reviewer)."""
    key = _new_key(alg)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(person or f"{organisation} mintloom signer", organisation, unit))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _next_whole_second() -> dt.datetime:
    """Wait for the next whole second and return it: checkpoint times are whole seconds, so every
    checkpoint the old key signed before the rotation claims an earlier second than its retirement."""
    now = time.time()
    time.sleep(math.floor(now) + 1 - now)
    return dt.datetime.fromtimestamp(math.floor(now) + 1, dt.UTC)


def _parse_stamp(stamp: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise KeyStoreError(f"keys.json: rotation time {stamp!r} is malformed") from exc


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class _Rotation(BaseModel):
    at: str
    retired: str
    new: str


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alg: Alg
    organisation: str
    eth_address: str
    rotations: list[_Rotation] = []


@dataclass(frozen=True)
class KeyInfo:
    alg: Alg
    organisation: str
    ca_fingerprint: str
    signer_fingerprint: str
    signer_not_after: str
    eth_address: str
    rotations: int


class KeyStore:
    """The workspace's key material; private keys are encrypted at rest with one password."""

    def __init__(self, keys_dir: Path) -> None:
        self.dir = keys_dir

    # -- paths ----------------------------------------------------------------------------------
    @property
    def ca_pem(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def signer_pem(self) -> Path:
        return self.dir / "signer.pem"

    @property
    def crl_pem(self) -> Path:
        return self.dir / "retired.crl.pem"

    @property
    def meta_file(self) -> Path:
        return self.dir / "keys.json"

    def exists(self) -> bool:
        return self.meta_file.is_file()

    @staticmethod
    def password_from_env() -> str | None:
        return os.environ.get(ENV_PASSWORD) or None

    def _password(self, password: str | None) -> bytes:
        pw = password if password is not None else self.password_from_env()
        if not pw:
            raise KeyStoreError(
                "the key password is needed to use the workspace keys",
                hint=f"set {ENV_PASSWORD} or run the command interactively",
            )
        return pw.encode()

    # -- creation ---------------------------------------------------------------------------------
    def init(self, organisation: str, alg: Alg = "es256", password: str | None = None) -> KeyInfo:
        """Create CA, signer and chain account. Refuses to overwrite existing keys."""
        if self.exists():
            raise KeyStoreError(f"keys already exist in {self.dir}", hint="use `mintloom keys rotate`")
        pw = self._password(password)
        if len(pw) < 8:
            raise KeyStoreError("the key password must have at least 8 characters")
        from eth_account import Account

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.dir.chmod(0o700)
            ca_key, ca_cert = make_ca(organisation)
            key, cert = issue_signer(ca_key, ca_cert, organisation, alg)
            acct = Account.create()
            keystore = Account.encrypt(acct.key, pw.decode())
            _write_private(self.dir / "ca.key.pem", encrypt_pkcs8(ca_key, pw))
            _write_private(self.dir / "signer.key.pem", encrypt_pkcs8(key, pw))
            _write_private(self.dir / "eth.json", json.dumps(keystore).encode())
            self.ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
            self.signer_pem.write_bytes(
                cert.public_bytes(serialization.Encoding.PEM)
                + ca_cert.public_bytes(serialization.Encoding.PEM)
            )
            meta = _Meta(alg=alg, organisation=organisation, eth_address=acct.address)
            _write_private(self.meta_file, meta.model_dump_json(indent=2).encode())
        except OSError as exc:
            raise KeyStoreError(f"cannot write keys to {self.dir}: {exc}") from exc
        return self.info()

    def rotate(self, password: str | None = None, alg: Alg | None = None) -> KeyInfo:
        """Issue a new signer certificate and key from the same CA; the old one is retired (assets
        it signed keep verifying, since the CA is unchanged)."""
        meta = self._meta()
        ca_key = self._load_private(self.dir / "ca.key.pem", password)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError("CA key has an unexpected type")
        ca_cert = x509.load_pem_x509_certificate(self.ca_pem.read_bytes())
        new_alg: Alg = alg or meta.alg
        key, cert = issue_signer(ca_key, ca_cert, meta.organisation, new_alg)
        pw = self._password(password)
        retired = self.dir / "retired"
        retired.mkdir(exist_ok=True)
        old_cert = x509.load_pem_x509_certificates(self.signer_pem.read_bytes())[0]
        stamp = _next_whole_second().strftime("%Y%m%dT%H%M%SZ")
        (retired / f"signer-{stamp}-{_fingerprint(old_cert)[:12]}.pem").write_bytes(
            self.signer_pem.read_bytes()
        )
        _write_private(self.dir / "signer.key.pem", encrypt_pkcs8(key, pw))
        self.signer_pem.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
        )
        meta.alg = new_alg
        meta.rotations.append(_Rotation(at=stamp, retired=_fingerprint(old_cert), new=_fingerprint(cert)))
        _write_private(self.meta_file, meta.model_dump_json(indent=2).encode())
        self.crl_pem.write_bytes(make_retirement_crl(ca_key, ca_cert, self.retirements()))
        return self.info()

    def retirements(self) -> dict[int, dt.datetime]:
        """Serial → retirement time of every signer certificate `rotate` retired (from the rotation
        records in keys.json and the certificates filed under retired/)."""
        when = {r.retired: _parse_stamp(r.at) for r in self._meta().rotations}
        found: dict[int, dt.datetime] = {}
        for path in sorted((self.dir / "retired").glob("signer-*.pem")):
            try:
                cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
            except (OSError, ValueError) as exc:
                raise KeyStoreError(f"cannot read retired certificate {path.name}: {exc}") from exc
            at = when.get(_fingerprint(cert))
            if at is not None:
                found[cert.serial_number] = at
        return found

    def trust_bundle_pem(self) -> str:
        """The root certificate followed by the CA-signed retirement list (once keys were rotated):
        what third parties pass to `mintloom verify --trust`."""
        crl = self.crl_pem.read_text() if self.crl_pem.is_file() else ""
        return self.trust_anchor_pem() + crl

    # -- loading ----------------------------------------------------------------------------------
    def _meta(self) -> _Meta:
        if not self.exists():
            raise KeyStoreError(f"no keys in {self.dir}", hint="run `mintloom keys init`")
        try:
            return _Meta.model_validate_json(self.meta_file.read_bytes())
        except (OSError, ValidationError) as exc:
            raise KeyStoreError(f"cannot read {self.meta_file}: {exc}") from exc

    def _load_private(self, path: Path, password: str | None) -> PrivateKey:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read private key {path}: {exc}") from exc
        try:
            key = serialization.load_pem_private_key(data, password=self._password(password))
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"cannot decrypt {path.name}: wrong key password or damaged key file"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyStoreError(f"{path.name} holds an unsupported key type")
        if not kdf_of(data).strong:
            self._migrate(path, key, password)
        return key

    def _migrate(self, path: Path, key: PrivateKey, password: str | None) -> None:
        """Re-encrypt a key file written with a weak KDF (2,048 PBKDF2 rounds before scrypt).

        The new file is checked to decrypt to the same key, then atomically replaces the old one;
        no backup is kept, since a copy under the weak KDF is what the migration removes. A key
        directory that cannot be written leaves the key usable and is retried on the next unlock.
        """
        pw = self._password(password)
        pem = encrypt_pkcs8(key, pw)
        again = serialization.load_pem_private_key(pem, password=pw)
        plain = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        if again.private_bytes(*plain) != key.private_bytes(*plain):
            raise KeyStoreError(f"re-encrypting {path.name} did not round-trip; the old file is kept")
        try:
            _write_private(path, pem)
        except OSError as exc:
            _log.warning("cannot re-encrypt %s with the stronger KDF: %s", path.name, exc)
            return
        _log.info("re-encrypted %s with scrypt (its KDF was weak)", path.name)

    def signer(self, password: str | None = None) -> LocalSigner:
        key = self._load_private(self.dir / "signer.key.pem", password)
        return LocalSigner(key, self.signer_pem.read_bytes())

    def issue_person(self, name: str, unit: str, password: str | None = None) -> tuple[PrivateKey, bytes]:
        """A key and certificate chain for a person (``unit`` names their role, e.g. reviewers),
        issued by the organisation CA so their signatures are checked against the same root."""
        ca_key = self._load_private(self.dir / "ca.key.pem", password)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError("CA key has an unexpected type")
        ca_cert = x509.load_pem_x509_certificate(self.ca_pem.read_bytes())
        alg = self._meta().alg
        key, cert = issue_signer(ca_key, ca_cert, self._meta().organisation, alg, person=name, unit=unit)
        pem = serialization.Encoding.PEM
        return key, cert.public_bytes(pem) + ca_cert.public_bytes(pem)

    def trust_anchor_pem(self) -> str:
        try:
            return self.ca_pem.read_text()
        except OSError as exc:
            raise KeyStoreError(f"no CA certificate in {self.dir}", hint="run `mintloom keys init`") from exc

    def eth_private_key(self, password: str | None = None) -> bytes:
        from eth_account import Account

        try:
            keystore = json.loads((self.dir / "eth.json").read_text())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read chain account keystore: {exc}") from exc
        try:
            return bytes(Account.decrypt(keystore, self._password(password).decode()))
        except ValueError as exc:
            raise KeyStoreError("cannot decrypt chain account: wrong key password") from exc

    def info(self) -> KeyInfo:
        meta = self._meta()
        ca = x509.load_pem_x509_certificate(self.ca_pem.read_bytes())
        leaf = x509.load_pem_x509_certificates(self.signer_pem.read_bytes())[0]
        return KeyInfo(
            alg=meta.alg,
            organisation=meta.organisation,
            ca_fingerprint=_fingerprint(ca),
            signer_fingerprint=_fingerprint(leaf),
            signer_not_after=leaf.not_valid_after_utc.isoformat(),
            eth_address=meta.eth_address,
            rotations=len(meta.rotations),
        )
