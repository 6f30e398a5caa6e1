from __future__ import annotations

import hashlib

import pytest

from mintloom.errors import SigningError
from mintloom.provenance.content_credentials import (
    C2paAssetSigner,
    extract_manifest_store,
    read_credentials,
)
from mintloom.provenance.credentials import Parent
from mintloom.provenance.keys import KeyStore

from .conftest import PASSWORD, png_bytes, record, wav_bytes


@pytest.mark.parametrize(("media_type", "make"), [("image/png", png_bytes), ("audio/wav", wav_bytes)])
def test_signed_asset_reads_back_trusted(
    asset_signer: C2paAssetSigner, keystore: KeyStore, media_type: str, make: object
) -> None:
    data = make()  # type: ignore[operator]
    rec = record()
    signed = asset_signer.sign(data, media_type, rec, title="a")
    assert not signed.sidecar and signed.data != data
    assert signed.manifest_hash == hashlib.sha256(signed.manifest).digest()
    assert extract_manifest_store(signed.data, media_type) == signed.manifest
    rep = read_credentials(signed.data, media_type, trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.present and rep.trusted and rep.signature_valid and rep.hash_binding_valid, rep.failures
    assert rep.validation_state == "Trusted"
    assert rep.generation == rec
    assert rep.actions == ["c2pa.created"]
    assert rep.manifest_hash == signed.manifest_hash.hex()


def test_flipped_byte_is_tampered(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    signed = asset_signer.sign(png_bytes(), "image/png", record(), title="a")
    # flip a byte of the image data (the IDAT region sits before the trailing IEND)
    idat = signed.data.rindex(b"IDAT") + 20
    bad = bytearray(signed.data)
    bad[idat] ^= 0x01
    rep = read_credentials(bytes(bad), "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.present and not rep.hash_binding_valid and rep.tampered
    assert "assertion.dataHash.mismatch" in rep.failures
    assert rep.validation_state == "Invalid"


def test_foreign_signer_is_untrusted(foreign_keystore: KeyStore, keystore: KeyStore) -> None:
    forged = C2paAssetSigner(foreign_keystore.signer(PASSWORD)).sign(
        png_bytes(), "image/png", record(), title="x"
    )
    rep = read_credentials(forged.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.present and rep.signature_valid and not rep.trusted
    assert rep.hash_binding_valid
    assert any(f.startswith("signingCredential.untrusted") for f in rep.failures)


def test_manifest_pasted_onto_other_image_is_tampered(
    asset_signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    a = asset_signer.sign(png_bytes(seed=1), "image/png", record(), title="a")
    other = png_bytes(w=320, h=200, seed=2)
    # rebuild `other` with a's caBX chunk inserted after IHDR
    chunk_start = a.data.index(b"caBX") - 4
    length = int.from_bytes(a.data[chunk_start : chunk_start + 4], "big")
    cabx = a.data[chunk_start : chunk_start + 12 + length]
    ihdr_end = 8 + 12 + int.from_bytes(other[8:12], "big")
    pasted = other[:ihdr_end] + cabx + other[ihdr_end:]
    rep = read_credentials(pasted, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.present and rep.tampered and not rep.hash_binding_valid


def test_derived_variant_has_valid_parent_ingredient(
    asset_signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    master = asset_signer.sign(png_bytes(640, 400), "image/png", record(), title="master.png")
    child = asset_signer.sign(
        png_bytes(320, 200),
        "image/png",
        record(action="c2pa.resized", format="320x200"),
        title="320x200.png",
        parent=Parent(master.data, "image/png", "master.png"),
    )
    rep = read_credentials(child.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.trusted, rep.failures
    assert rep.actions == ["c2pa.opened", "c2pa.resized"]
    assert len(rep.ingredients) == 1
    ing = rep.ingredients[0]
    assert ing.relationship == "parentOf" and ing.valid and ing.title == "master.png"


def test_text_gets_sidecar_bound_to_exact_bytes(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    text = "Bonjour Lyon — 20 % de réduction jusqu'au 3 mai\n".encode()
    signed = asset_signer.sign(text, "text/plain", record(), title="copy.txt")
    assert signed.sidecar and signed.data == text
    anchors = keystore.trust_anchor_pem()
    ok = read_credentials(text, "text/plain", trust_anchors_pem=anchors, sidecar=signed.manifest)
    assert ok.trusted and ok.hash_binding_valid and ok.generation is not None
    assert ok.manifest_hash == signed.manifest_hash.hex()
    changed = read_credentials(text.replace(b"20", b"90"), "text/plain", trust_anchors_pem=anchors,
                               sidecar=signed.manifest)  # fmt: skip
    assert changed.tampered and not changed.hash_binding_valid
    missing = read_credentials(text, "text/plain", trust_anchors_pem=anchors)
    assert not missing.present


def test_unsigned_and_garbage_inputs_never_raise(keystore: KeyStore) -> None:
    anchors = keystore.trust_anchor_pem()
    assert not read_credentials(png_bytes(), "image/png", trust_anchors_pem=anchors).present
    for junk in (b"", b"not an image", png_bytes()[:50]):
        rep = read_credentials(junk, "image/png", trust_anchors_pem=anchors)
        assert not rep.trusted


def test_unsupported_media_type_is_a_signing_error(asset_signer: C2paAssetSigner) -> None:
    with pytest.raises(SigningError, match="video/x-foo"):
        asset_signer.sign(b"...", "video/x-foo", record(), title="v")


def test_failing_key_never_returns_an_unsigned_asset(keystore: KeyStore) -> None:
    class BrokenHsm:
        alg = "es256"
        certificate_chain_pem = keystore.signer_pem.read_bytes()

        def sign(self, data: bytes) -> bytes:
            raise OSError("HSM offline")

    with pytest.raises(SigningError):
        C2paAssetSigner(BrokenHsm()).sign(png_bytes(), "image/png", record(), title="a")  # type: ignore[arg-type]
