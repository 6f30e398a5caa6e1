from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.errors import KeyStoreError
from mintloom.provenance.content_credentials import C2paAssetSigner, read_credentials
from mintloom.provenance.keys import KeyStore, verify_raw_signature

from .conftest import PASSWORD, png_bytes, record


@pytest.mark.parametrize("alg", ["es256", "ed25519"])
def test_init_sign_and_verify(tmp_path: Path, alg: str) -> None:
    ks = KeyStore(tmp_path / "keys")
    info = ks.init("Org", alg, password=PASSWORD)  # type: ignore[arg-type]
    assert info.alg == alg and info.eth_address.startswith("0x")
    signer = ks.signer(PASSWORD)
    sig = signer.sign(b"checkpoint")
    assert len(sig) == 64
    assert verify_raw_signature(signer.certificate_chain_pem, b"checkpoint", sig)
    assert not verify_raw_signature(signer.certificate_chain_pem, b"checkpoinT", sig)
    # private files are encrypted and private
    for name in ("ca.key.pem", "signer.key.pem", "eth.json"):
        p = ks.dir / name
        assert p.stat().st_mode & 0o077 == 0
        assert b"ENCRYPTED" in p.read_bytes() or name == "eth.json"
    assert len(ks.eth_private_key(PASSWORD)) == 32


def test_wrong_password_is_clear_error(keystore: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="wrong key password"):
        keystore.signer("not the password")
    with pytest.raises(KeyStoreError, match="wrong key password"):
        keystore.eth_private_key("not the password")


def test_missing_password_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINTLOOM_KEY_PASSWORD", raising=False)
    ks = KeyStore(tmp_path / "k")
    with pytest.raises(KeyStoreError, match="no keys"):
        ks.info()
    with pytest.raises(KeyStoreError, match="MINTLOOM_KEY_PASSWORD"):
        ks.init("Org")
    with pytest.raises(KeyStoreError, match="at least 8"):
        ks.init("Org", password="short")


def test_init_refuses_to_overwrite(keystore: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="already exist"):
        keystore.init("Other", password=PASSWORD)


def test_rotation_keeps_old_assets_verifiable(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys")
    first = ks.init("Org", password=PASSWORD)
    old = C2paAssetSigner(ks.signer(PASSWORD)).sign(png_bytes(), "image/png", record(), title="old")
    second = ks.rotate(PASSWORD, alg="ed25519")
    assert second.signer_fingerprint != first.signer_fingerprint
    assert second.ca_fingerprint == first.ca_fingerprint and second.rotations == 1
    assert len(list((ks.dir / "retired").glob("signer-*.pem"))) == 1
    new = C2paAssetSigner(ks.signer(PASSWORD)).sign(png_bytes(seed=3), "image/png", record(), title="new")
    anchors = ks.trust_anchor_pem()
    assert read_credentials(old.data, "image/png", trust_anchors_pem=anchors).trusted
    assert read_credentials(new.data, "image/png", trust_anchors_pem=anchors).trusted


# --- KDF strength and migration ----------------------------------------------------------------------
def _asn1(pem: bytes, tmp_path: Path) -> str:
    """openssl's own parse of the PEM's ASN.1: an independent reader of the KDF parameters."""
    import subprocess

    src = tmp_path / "k.pem"
    src.write_bytes(pem)
    cmd = ["openssl", "asn1parse", "-in", str(src)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout


def _ints(asn1: str) -> list[int]:
    return [int(line.rsplit(":", 1)[1], 16) for line in asn1.splitlines() if "prim: INTEGER" in line]


def _weak_pem(key: object) -> bytes:
    """A key file as mintloom wrote them before: cryptography's PKCS#8, PBKDF2 at 2,048 rounds."""
    from cryptography.hazmat.primitives import serialization

    enc = serialization.BestAvailableEncryption(PASSWORD.encode())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("alg", ["es256", "ed25519"])
def test_new_keys_use_scrypt(tmp_path: Path, alg: str) -> None:
    from mintloom.provenance.pkcs8 import kdf_of

    ks = KeyStore(tmp_path / "keys")
    ks.init("Org", alg, password=PASSWORD)  # type: ignore[arg-type]
    ks.rotate(PASSWORD)
    for name in ("ca.key.pem", "signer.key.pem"):
        pem = (ks.dir / name).read_bytes()
        asn1 = _asn1(pem, tmp_path)
        assert ":PBES2" in asn1 and ":scrypt" in asn1 and ":aes-256-cbc" in asn1, asn1
        assert "PBKDF2" not in asn1
        n, r, p, length = _ints(asn1)[:4]
        assert (n, r, p, length) == (2**17, 8, 1, 32)
        params = kdf_of(pem)
        assert params.kdf == "scrypt" and params.cost == 2**17 and params.strong


def test_a_weak_key_file_is_migrated_on_first_unlock_and_still_signs(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from mintloom.provenance.pkcs8 import kdf_of

    ks = KeyStore(tmp_path / "keys")
    ks.init("Org", "es256", password=PASSWORD)
    path = ks.dir / "signer.key.pem"
    key = serialization.load_pem_private_key(path.read_bytes(), PASSWORD.encode())
    path.write_bytes(_weak_pem(key))
    old = kdf_of(path.read_bytes())
    assert (old.kdf, old.cost, old.strong) == ("pbkdf2", 2048, False)
    assert "PBKDF2" in _asn1(path.read_bytes(), tmp_path)

    with pytest.raises(KeyStoreError, match="wrong key password"):
        ks.signer("not the password")
    assert kdf_of(path.read_bytes()).cost == 2048  # a failed unlock never rewrites

    signer = ks.signer(PASSWORD)
    sig = signer.sign(b"checkpoint")
    assert verify_raw_signature(signer.certificate_chain_pem, b"checkpoint", sig)
    migrated = path.read_bytes()
    asn1 = _asn1(migrated, tmp_path)
    assert ":scrypt" in asn1 and "PBKDF2" not in asn1 and _ints(asn1)[:3] == [2**17, 8, 1]
    assert path.stat().st_mode & 0o077 == 0
    backups = [p.name for p in ks.dir.iterdir() if "signer.key" in p.name and p.name != "signer.key.pem"]
    assert backups == []  # no copy under the weak KDF is left behind
    again = serialization.load_pem_private_key(migrated, PASSWORD.encode())
    plain = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert again.private_bytes(*plain) == key.private_bytes(*plain)  # the same key, re-encrypted
    ks.signer(PASSWORD)
    assert path.read_bytes() == migrated  # a strong file is left alone


def test_the_ca_key_migrates_when_rotating(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from mintloom.provenance.pkcs8 import kdf_of

    ks = KeyStore(tmp_path / "keys")
    ks.init("Org", "es256", password=PASSWORD)
    ca = ks.dir / "ca.key.pem"
    ca.write_bytes(_weak_pem(serialization.load_pem_private_key(ca.read_bytes(), PASSWORD.encode())))
    ks.rotate(PASSWORD)
    assert kdf_of(ca.read_bytes()).strong


def test_kdf_reader_refuses_what_is_not_an_encrypted_key() -> None:
    from mintloom.provenance.pkcs8 import kdf_of

    garbled = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    plain = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    for junk in (b"", garbled, plain):
        with pytest.raises(KeyStoreError, match="not an encrypted PKCS#8"):
            kdf_of(junk)


def test_rotation_publishes_a_ca_signed_retirement_list_and_a_forged_one_is_refused(tmp_path: Path) -> None:
    """The trust bundle lists each retired signer with its rotation time under the CA's signature;
    a list a forger signs (to un-retire a key, or retire the current one) is refused by name."""
    import datetime as dt

    from cryptography import x509

    from mintloom.errors import CertificateChainError
    from mintloom.provenance.keys import check_not_retired, make_retirement_crl, split_trust_bundle
    from tests.provenance.certs import issue

    keystore = KeyStore(tmp_path / "keys")
    keystore.init("Org", "es256", password=PASSWORD)
    old = x509.load_pem_x509_certificates(keystore.signer(PASSWORD).chain_pem)[0]
    keystore.rotate(PASSWORD)
    anchors, retired = split_trust_bundle(keystore.trust_bundle_pem())
    assert anchors.strip() == keystore.trust_anchor_pem().strip()
    when = retired[old.serial_number]
    assert when == keystore.retirements()[old.serial_number] and when.microsecond == 0
    check_not_retired(old, when - dt.timedelta(seconds=1), retired)
    with pytest.raises(CertificateChainError, match="retired") as refused:
        check_not_retired(old, when, retired)
    assert refused.value.reason == "retired"

    mallory = issue("Mallory Root", None, ca=True, path_length=0)  # names itself after the real CA:
    real_ca = x509.load_pem_x509_certificate(anchors.encode())
    forged = make_retirement_crl(mallory.key, real_ca, {12345: when}).decode()
    with pytest.raises(CertificateChainError, match="not signed by a trusted root") as bad:
        split_trust_bundle(anchors + forged)
    assert bad.value.reason == "untrusted"
