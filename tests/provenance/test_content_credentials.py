from __future__ import annotations

import hashlib
import io
import unicodedata

import c2pa
import pytest

from mintloom.errors import SigningError
from mintloom.provenance import text_wrapper
from mintloom.provenance.content_credentials import (
    C2paAssetSigner,
    extract_manifest_store,
    read_credentials,
    text_carrier,
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


TEXT = "Bonjour Lyon — 20 % de réduction jusqu'au 3 mai\n".encode()


def test_text_carries_its_manifest_embedded_and_bound_to_the_text(
    asset_signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    signed = asset_signer.sign(TEXT, "text/plain", record(), title="copy.txt")
    assert signed.sidecar and signed.data.startswith(TEXT)  # the store is also shipped detached
    found = text_wrapper.find(signed.data)
    assert found is not None and found.manifest == signed.manifest and found.start == len(TEXT)
    assert text_wrapper.strip(signed.data, found) == TEXT  # the wrapper is all that was added
    anchors = keystore.trust_anchor_pem()
    ok = read_credentials(signed.data, "text/plain", trust_anchors_pem=anchors)
    assert ok.trusted and ok.hash_binding_valid and ok.failures == [] and ok.generation == record()
    assert ok.validation_state == "Trusted" and ok.manifest_hash == signed.manifest_hash.hex()


@pytest.mark.parametrize(
    "attack",
    [
        lambda d: d.replace(b"20 %", b"90 %"),  # the offer changed
        lambda d: b"PROMO " + d,  # text put before: the wrapper is no longer where the binding says
        lambda d: d + b"!",  # text put after the wrapper
        lambda d: d.replace(b"Lyon", b"L\xc3\xa9on"),  # one letter, same length in characters
    ],
)
def test_edited_text_is_a_hash_mismatch(
    asset_signer: C2paAssetSigner, keystore: KeyStore, attack: object
) -> None:
    signed = asset_signer.sign(TEXT, "text/plain", record(), title="copy.txt")
    rep = read_credentials(attack(signed.data), "text/plain", trust_anchors_pem=keystore.trust_anchor_pem())  # type: ignore[operator]
    assert rep.present and rep.tampered and not rep.hash_binding_valid and not rep.trusted


def test_text_in_another_normalization_form_still_matches(
    asset_signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    """C2PA hashes unstructured text in NFC: decomposed accents are the same text."""
    signed = asset_signer.sign(
        unicodedata.normalize("NFD", TEXT.decode()).encode(), "text/plain", record(), title="c"
    )
    assert signed.data.startswith(TEXT)  # signed as NFC
    found = text_wrapper.find(signed.data)
    assert found is not None
    body = unicodedata.normalize("NFD", TEXT.decode()).encode()
    shifted = body + signed.data[found.start :]  # same text, decomposed: the wrapper moved
    rep = read_credentials(shifted, "text/plain", trust_anchors_pem=keystore.trust_anchor_pem())
    assert not rep.hash_binding_valid  # the exclusion no longer points at the wrapper
    same = read_credentials(signed.data, "text/plain", trust_anchors_pem=keystore.trust_anchor_pem())
    assert same.hash_binding_valid


def test_stripped_duplicated_or_damaged_wrappers(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    anchors = keystore.trust_anchor_pem()
    signed = asset_signer.sign(TEXT, "text/plain", record(), title="copy.txt")
    found = text_wrapper.find(signed.data)
    assert found is not None
    stripped = read_credentials(
        text_wrapper.strip(signed.data, found), "text/plain", trust_anchors_pem=anchors
    )
    assert not stripped.present  # as before: verify then reports "no Content Credential"
    wrapper = signed.data[found.start :]
    twice = read_credentials(signed.data + wrapper, "text/plain", trust_anchors_pem=anchors)
    assert twice.present and twice.error is not None and "multipleWrappers" in twice.error
    truncated = signed.data.decode()[: len(TEXT.decode()) + 60].encode()  # the wrapper cut short
    cut = read_credentials(truncated, "text/plain", trust_anchors_pem=anchors)
    assert cut.present and cut.error is not None and "corruptedWrapper" in cut.error
    with pytest.raises(SigningError, match="already carries"):
        asset_signer.sign(signed.data, "text/plain", record(), title="again")


def test_foreign_signer_text_is_valid_but_untrusted(foreign_keystore: KeyStore, keystore: KeyStore) -> None:
    signed = C2paAssetSigner(foreign_keystore.signer(PASSWORD)).sign(TEXT, "text/plain", record(), title="c")
    rep = read_credentials(signed.data, "text/plain", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.hash_binding_valid and rep.signature_valid and not rep.trusted


def test_translated_text_names_its_text_parent(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    master = asset_signer.sign(TEXT, "text/plain", record(), title="fr.txt")
    rec = record(action="c2pa.translated", locale="en-GB", source_locale="fr-FR")
    child = asset_signer.sign(b"Hello Lyon - 20% off until 3 May\n", "text/plain", rec, title="en.txt",
                              parent=Parent(master.data, "text/plain", "fr.txt"))  # fmt: skip
    rep = read_credentials(child.data, "text/plain", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.trusted and rep.hash_binding_valid, rep.failures
    assert rep.actions == ["c2pa.opened", "c2pa.translated"]
    (ing,) = rep.ingredients
    assert ing.valid and ing.title == "fr.txt" and ing.relationship == "parentOf"
    edited = master.data.replace(b"20 %", b"90 %")
    with pytest.raises(SigningError, match="no longer matches"):
        asset_signer.sign(
            b"x", "text/plain", rec, title="en.txt", parent=Parent(edited, "text/plain", "fr.txt")
        )
    with pytest.raises(SigningError, match="no Content Credential"):
        asset_signer.sign(
            b"x", "text/plain", rec, title="en.txt", parent=Parent(TEXT, "text/plain", "fr.txt")
        )


def test_legacy_sidecar_text_still_reads(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    """Text signed before the embedded form: a sidecar bound to the SVG carrier of the text."""
    created = {"action": "c2pa.created", "digitalSourceType": str(record().source_type)}
    definition = {
        "claim_generator_info": [{"name": "mintloom", "version": "0"}],
        "title": "old.txt",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [created]}}],
    }
    builder = c2pa.Builder.from_json(definition, asset_signer._context)
    builder.set_no_embed()
    sidecar = builder.sign(
        asset_signer._c2pa_signer(), "image/svg+xml", io.BytesIO(text_carrier(TEXT)), io.BytesIO()
    )
    anchors = keystore.trust_anchor_pem()
    old = read_credentials(TEXT, "text/plain", trust_anchors_pem=anchors, sidecar=sidecar)
    assert old.trusted and old.hash_binding_valid
    edited = read_credentials(TEXT + b"!", "text/plain", trust_anchors_pem=anchors, sidecar=sidecar)
    assert not edited.hash_binding_valid


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


def test_every_variant_after_the_first_is_still_trusted_with_a_valid_parent(keystore: KeyStore) -> None:
    """c2pa's re-read of what it wrote runs until one asset passes it; the variants signed after
    that still read back trusted, bound to their bytes, with a valid parentOf ingredient."""
    signer = C2paAssetSigner(keystore.signer(PASSWORD))
    master = signer.sign(png_bytes(640, 400), "image/png", record(), title="master.png")
    parent = Parent(master.data, "image/png", "master.png")
    for i in range(3):
        variant, rec = png_bytes(320, 200, seed=i), record(action="c2pa.resized")
        child = signer.sign(variant, "image/png", rec, title=f"{i}.png", parent=parent)
        rep = read_credentials(child.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
        assert rep.trusted and rep.hash_binding_valid and rep.signature_valid, rep.failures
        assert [(g.relationship, g.valid) for g in rep.ingredients] == [("parentOf", True)]


def test_a_key_that_goes_bad_after_the_first_asset_is_still_refused(keystore: KeyStore) -> None:
    """An HSM that answers garbage once the first asset passed c2pa's full check: the signature is
    still checked on every asset, so no later asset ships a signature that does not verify."""
    good = keystore.signer(PASSWORD)

    class DegradingHsm:
        alg = good.alg
        certificate_chain_pem = good.certificate_chain_pem
        calls = 0

        def sign(self, data: bytes) -> bytes:
            self.calls += 1
            sig = good.sign(data)
            return sig if self.calls == 1 else sig[::-1]  # reversed: not a valid signature

    signer = C2paAssetSigner(DegradingHsm())  # type: ignore[arg-type]
    first = signer.sign(png_bytes(), "image/png", record(), title="first.png")
    assert read_credentials(first.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem()).trusted
    with pytest.raises(SigningError, match="signature"):
        signer.sign(png_bytes(seed=2), "image/png", record(), title="second.png")
