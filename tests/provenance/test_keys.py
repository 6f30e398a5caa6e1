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
