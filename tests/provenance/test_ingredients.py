"""Parent and component ingredients are validated once per signed file, not once per variant.

c2pa's ``add_ingredient`` validates the ingredient's manifest each time it is called; the signer
validates a parent once (c2pa's own Reader) and records those results, with the parent's manifest
store, in every variant made from it. What is recorded must be what ``add_ingredient`` records,
and a hostile parent (tampered, foreign, two stores, bytes changed in place) must come out the
same as before: recorded as invalid, or refused.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import encypher_c2pa
import pytest
from PIL import Image

from mintloom.errors import SigningError
from mintloom.provenance.content_credentials import INGREDIENT_THUMB_EDGE, C2paAssetSigner, read_credentials
from mintloom.provenance.credentials import Parent, SignedAsset
from mintloom.provenance.ingredient_thumbs import ingredient_thumbnail
from mintloom.provenance.keys import KeyStore
from mintloom.store.thumbnails import render_thumbnail, thumbnail_of

from .conftest import PASSWORD, png_bytes, record, wav_bytes
from .test_interop import _c2pa_ts


@pytest.fixture
def signer(keystore: KeyStore) -> C2paAssetSigner:
    return C2paAssetSigner(keystore.signer(PASSWORD))


@pytest.fixture
def master(signer: C2paAssetSigner) -> SignedAsset:
    return signer.sign(png_bytes(640, 400), "image/png", record(), title="master.png")


def _variant(signer: C2paAssetSigner, parent: Parent, seed: int) -> SignedAsset:
    rec = record(action="c2pa.resized", parameters={"format": "320x200"})
    return signer.sign(png_bytes(320, 200, seed=seed), "image/png", rec, title=f"v{seed}.png", parent=parent)


def _ingredients(data: bytes, media_type: str, anchors: str) -> list[dict[str, Any]]:
    """The active manifest's ingredients as c2pa reads them, without the per-file instance id."""
    settings = c2pa.Settings.from_dict({"trust": {"trust_anchors": anchors}})
    with c2pa.Reader(media_type, io.BytesIO(data), context=c2pa.Context(settings=settings)) as reader:
        store = json.loads(reader.json())
    found = store["manifests"][store["active_manifest"]].get("ingredients", [])
    return [{k: v for k, v in ing.items() if k != "instance_id"} for ing in found]


@pytest.fixture
def c2pa_validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each time signing hands c2pa a whole file to validate as an ingredient, or opens a Reader
    (real c2pa runs underneath: this only counts the calls)."""
    calls: list[str] = []
    add, try_create = c2pa.Builder.add_ingredient_from_stream, c2pa.Reader.try_create

    def counted_add(self: c2pa.Builder, *args: Any) -> None:
        calls.append("add_ingredient")
        add(self, *args)

    def counted_reader(*args: Any, **kwargs: Any) -> c2pa.Reader | None:
        calls.append("reader")
        return try_create(*args, **kwargs)

    monkeypatch.setattr(c2pa.Builder, "add_ingredient_from_stream", counted_add)
    monkeypatch.setattr(c2pa.Reader, "try_create", staticmethod(counted_reader))
    yield calls


def test_a_parent_is_validated_once_for_all_its_variants(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore, c2pa_validations: list[str]
) -> None:
    parent = Parent(master.data, "image/png", "master.png")
    variants = [_variant(signer, parent, seed) for seed in range(4)]
    assert c2pa_validations == ["reader"]  # one read of the parent: its PNG holds that one store
    for v in variants:
        rep = read_credentials(v.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
        assert rep.trusted and rep.hash_binding_valid, rep.failures
        assert rep.actions == ["c2pa.opened", "c2pa.resized"]
        assert [(g.relationship, g.title, g.valid) for g in rep.ingredients] == [
            ("parentOf", "master.png", True)
        ]


def test_c2pa_skips_its_repeat_validation_only_of_ingredients_validated_ahead(
    signer: C2paAssetSigner, master: SignedAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variant of a parent validated here is built without c2pa validating the parent's store
    again; a parent c2pa ingests itself (here: two stores, refused) is built with validation on."""
    contexts: list[c2pa.Context] = []
    from_json = c2pa.Builder.from_json

    def spied(manifest: Any, context: c2pa.Context) -> c2pa.Builder:
        contexts.append(context)
        return from_json(manifest, context)

    monkeypatch.setattr(c2pa.Builder, "from_json", staticmethod(spied))
    _variant(signer, Parent(master.data, "image/png", "master.png"), 0)
    at = master.data.index(b"caBX") - 4
    chunk = master.data[at : at + 12 + int.from_bytes(master.data[at : at + 4], "big")]
    with pytest.raises(SigningError):
        _variant(signer, Parent(master.data[:at] + chunk + master.data[at:], "image/png", "m.png"), 1)
    assert contexts == [signer._prevalidated_context, signer._context]


def test_the_recorded_ingredient_is_what_c2pa_add_ingredient_records(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    """Same title, format, relationship, active manifest, validation results and manifest store as
    the ingredient c2pa builds when it validates the parent itself, for every variant."""
    anchors = keystore.trust_anchor_pem()
    parent = Parent(master.data, "image/png", "master.png")
    builder = c2pa.Builder.from_json(
        {"title": "ref.png", "format": "image/png", "assertions": []}, signer._context
    )
    builder.add_ingredient(
        {"title": "master.png", "relationship": "parentOf", "label": "parent"},
        "image/png",
        io.BytesIO(master.data),
    )
    out = io.BytesIO()
    builder.sign(signer._c2pa_signer(), "image/png", io.BytesIO(png_bytes(320, 200)), out)
    (reference,) = _ingredients(out.getvalue(), "image/png", anchors)
    assert reference["validation_results"]["activeManifest"]["failure"] == []
    for seed in range(2):
        (ours,) = _ingredients(_variant(signer, parent, seed).data, "image/png", anchors)
        assert ours.pop("thumbnail")["format"] == "image/jpeg"  # ours adds the parent's thumbnail
        assert ours == reference  # c2pa's, with thumbnails off as signing has them


def test_a_tampered_parent_is_recorded_invalid_in_every_variant(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    bad = bytearray(master.data)
    bad[bad.rindex(b"IDAT") + 20] ^= 0x01
    parent = Parent(bytes(bad), "image/png", "master.png")
    for seed in range(2):
        rep = read_credentials(
            _variant(signer, parent, seed).data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem()
        )
        (ing,) = rep.ingredients
        assert not ing.valid and "assertion.dataHash.mismatch" in ing.failures


def test_a_foreign_parent_is_recorded_untrusted_in_every_variant(
    signer: C2paAssetSigner, foreign_keystore: KeyStore, keystore: KeyStore
) -> None:
    foreign = C2paAssetSigner(foreign_keystore.signer(PASSWORD))
    theirs = foreign.sign(png_bytes(640, 400), "image/png", record(), title="theirs.png")
    parent = Parent(theirs.data, "image/png", "theirs.png")
    for seed in range(2):
        rep = read_credentials(
            _variant(signer, parent, seed).data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem()
        )
        (ing,) = rep.ingredients
        assert not ing.valid and ing.failures == ["signingCredential.untrusted"]


def test_a_parent_with_two_manifest_stores_is_still_refused(
    signer: C2paAssetSigner, master: SignedAsset
) -> None:
    """c2pa refuses a PNG carrying two stores; lifting out the first must not slip past that."""
    at = master.data.index(b"caBX") - 4
    chunk = master.data[at : at + 12 + int.from_bytes(master.data[at : at + 4], "big")]
    two = master.data[:at] + chunk + master.data[at:]
    for seed in range(2):
        with pytest.raises(SigningError, match="more than one manifest store"):
            _variant(signer, Parent(two, "image/png", "master.png"), seed)


def test_a_parent_with_bytes_after_its_last_chunk_is_read_with_its_lifted_store_too(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore, c2pa_validations: list[str]
) -> None:
    """Only a container whose every chunk was walked, finding that one store, is read once: a PNG
    with anything after IEND (here a second caBX chunk) has its lifted store read against it as well."""
    at = master.data.index(b"caBX") - 4
    chunk = master.data[at : at + 12 + int.from_bytes(master.data[at : at + 4], "big")]
    trailing = master.data + chunk
    variant = _variant(signer, Parent(trailing, "image/png", "master.png"), 0)
    assert c2pa_validations[:2] == ["reader", "reader"]
    rep = read_credentials(variant.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    (ing,) = rep.ingredients  # the bytes after IEND are hashed: c2pa finds the parent altered
    assert not ing.valid and "assertion.dataHash.mismatch" in ing.failures


def test_parent_bytes_changed_in_place_are_validated_again(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    """A mutable buffer handed as the parent is never taken from the cache: its content may change."""
    buffer = bytearray(master.data)
    parent = Parent(buffer, "image/png", "master.png")  # type: ignore[arg-type]
    anchors = keystore.trust_anchor_pem()
    first = read_credentials(_variant(signer, parent, 0).data, "image/png", trust_anchors_pem=anchors)
    assert [g.valid for g in first.ingredients] == [True]
    buffer[buffer.rindex(b"IDAT") + 20] ^= 0x01
    second = read_credentials(_variant(signer, parent, 1).data, "image/png", trust_anchors_pem=anchors)
    (ing,) = second.ingredients
    assert not ing.valid and "assertion.dataHash.mismatch" in ing.failures


def test_an_unsigned_parent_is_still_recorded_without_a_manifest(
    signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    parent = Parent(png_bytes(640, 400, seed=9), "image/png", "plain.png")
    for seed in range(2):
        rep = read_credentials(
            _variant(signer, parent, seed).data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem()
        )
        (ing,) = rep.ingredients
        assert ing.active_manifest is None and not ing.valid


def test_an_audio_parent_is_validated_once_too(
    signer: C2paAssetSigner, keystore: KeyStore, c2pa_validations: list[str]
) -> None:
    master = signer.sign(wav_bytes(), "audio/wav", record(), title="master.wav")
    parent = Parent(master.data, "audio/wav", "master.wav")
    rec = record(action="c2pa.edited")
    children = [
        signer.sign(wav_bytes(0.3 + i / 10), "audio/wav", rec, title=f"{i}.wav", parent=parent)
        for i in range(2)
    ]
    assert c2pa_validations == ["reader"]
    for child in children:
        rep = read_credentials(child.data, "audio/wav", trust_anchors_pem=keystore.trust_anchor_pem())
        assert rep.trusted and [g.valid for g in rep.ingredients] == [True], rep.failures


def test_independent_validators_accept_a_variant_with_a_prevalidated_parent(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore, tmp_path: Path
) -> None:
    """encypher-c2pa (its own Rust core) and c2pa-ts (TypeScript) on a variant signed after the
    parent was validated once: claim signature, hard binding and, for encypher, the trust chain."""
    parent = Parent(master.data, "image/png", "master.png")
    _variant(signer, parent, 0)
    variant = _variant(signer, parent, 1)
    report = encypher_c2pa.verify(
        variant.data, "image/png", trust_pem=keystore.trust_anchor_pem(), no_default_trust=True, online=False
    )
    failures = [f["code"] for f in report["validation_results"]["failure"]]
    assert report["integrity"] == "valid" and report["hard_binding"] == "match", failures
    assert report["trust"]["status"] == "valid_for_supplied_material" and failures == []
    path = tmp_path / "variant.png"
    path.write_bytes(variant.data)
    ts = _c2pa_ts(path)
    assert ts["manifest"] and ts["valid"], ts["codes"]


def test_a_parent_image_is_recorded_with_its_thumbnail(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    """C2PA's ingredient thumbnail: each variant's manifest carries a small JPEG of its parent
    (made once with the parent's validation), which c2pa's Reader hands back as a resource and the
    studio's manifest tree shows (:mod:`mintloom.provenance.ingredient_thumbs`)."""
    parent = Parent(master.data, "image/png", "master.png")
    variants = [_variant(signer, parent, seed) for seed in range(2)]
    for v in variants:
        (ing,) = _ingredients(v.data, "image/png", keystore.trust_anchor_pem())
        assert ing["thumbnail"]["format"] == "image/jpeg"
        thumb = ingredient_thumbnail(v.data, "image/png", 0)
        assert thumb is not None and thumb[:2] == b"\xff\xd8"
        with Image.open(io.BytesIO(thumb)) as img:
            assert max(img.size) <= INGREDIENT_THUMB_EDGE * 2 and img.size[0] > img.size[1]  # 640x400 parent
        rep = read_credentials(v.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
        assert rep.trusted and rep.hash_binding_valid, rep.failures


def _thumbnail_resource(data: bytes, anchors: str) -> bytes:
    """The parent's thumbnail as recorded in a variant's manifest (the raw resource)."""
    (ing,) = _ingredients(data, "image/png", anchors)
    settings = c2pa.Settings.from_dict({"trust": {"trust_anchors": anchors}})
    with c2pa.Reader("image/png", io.BytesIO(data), context=c2pa.Context(settings=settings)) as reader:
        out = io.BytesIO()
        reader.resource_to_stream(ing["thumbnail"]["identifier"], out)
    return out.getvalue()


def _mean_difference(a: bytes, b: bytes) -> float:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        assert x.size == y.size
        pa, pb = x.convert("RGB").tobytes(), y.convert("RGB").tobytes()
    return sum(abs(p - q) for p, q in zip(pa, pb, strict=True)) / len(pa)


def test_a_parent_preview_makes_its_ingredient_thumbnail(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    """The runner hands the worker's gallery thumbnail of the parent's pixels: the ingredient
    thumbnail is scaled from it (decoding a 1080 px parent cost ~15x more), and shows the parent."""
    with Image.open(io.BytesIO(master.data)) as img:
        preview = thumbnail_of(img)  # what the worker made from the pixels it encoded
    parent = Parent(master.data, "image/png", "master.png", preview=preview)
    anchors = keystore.trust_anchor_pem()
    for seed in range(2):
        variant = _variant(signer, parent, seed)
        recorded = _thumbnail_resource(variant.data, anchors)
        assert recorded == render_thumbnail(preview, edge=INGREDIENT_THUMB_EDGE)
        decoded = render_thumbnail(master.data, edge=INGREDIENT_THUMB_EDGE)
        assert decoded is not None and _mean_difference(recorded, decoded) < 4.0  # the same picture
        rep = read_credentials(variant.data, "image/png", trust_anchors_pem=anchors)
        assert rep.trusted and [g.valid for g in rep.ingredients] == [True], rep.failures


def test_an_undecodable_preview_falls_back_to_the_parent(
    signer: C2paAssetSigner, master: SignedAsset, keystore: KeyStore
) -> None:
    parent = Parent(master.data, "image/png", "master.png", preview=b"\xff\xd8 not a jpeg")
    recorded = _thumbnail_resource(_variant(signer, parent, 0).data, keystore.trust_anchor_pem())
    assert recorded == render_thumbnail(master.data, edge=INGREDIENT_THUMB_EDGE)
