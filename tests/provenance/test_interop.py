"""Interop: mintloom's credentials checked by C2PA validators mintloom did not write.

encypher-c2pa (PyPI) is a verification-only C2PA 2.4 SDK with its own Rust core, not c2pa-rs,
and it reads text manifests through the C2PA text reference crate. Each kind mintloom signs
(PNG, JPEG, WAV, text) must come out intact (claim signature valid, hard binding matching) and
chained to the workspace's root alone (no default trust lists); the same file with its content
changed must come out invalid, so the check cannot pass by accepting everything. c2pa-ts (npm,
pure TypeScript, run under node) checks PNG and JPEG the same way (it reads neither WAV nor
text, and does no trust-chain validation).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import encypher_c2pa
import pytest
from PIL import Image

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.provenance.content_credentials import INGREDIENT_THUMB_EDGE, C2paAssetSigner
from mintloom.provenance.keys import KeyStore
from mintloom.store.catalog import Catalog
from mintloom.store.thumbnails import Thumbnails, render_thumbnail
from mintloom.studio import Studio

from .conftest import png_bytes, record, wav_bytes


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(png_bytes())).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def text_bytes() -> bytes:
    return "Bonjour Lyon — 20 % de réduction jusqu'au 3 mai\n".encode()


def _flip_png(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 20
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _flip_jpeg(data: bytes) -> bytes:
    at = data.rindex(b"\xff\xd9") - 40  # inside the entropy-coded scan, before EOI
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _flip_wav(data: bytes) -> bytes:
    at = data.index(b"data") + 200
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _edit_text(data: bytes) -> bytes:
    return data.replace(b"20 %", b"90 %")


KINDS: list[tuple[str, Callable[[], bytes], Callable[[bytes], bytes]]] = [
    ("image/png", png_bytes, _flip_png),
    ("image/jpeg", jpeg_bytes, _flip_jpeg),
    ("audio/wav", wav_bytes, _flip_wav),
    ("text/plain", text_bytes, _edit_text),
]


def _encypher(data: bytes, media_type: str, root_pem: str) -> dict[str, Any]:
    report: dict[str, Any] = encypher_c2pa.verify(
        data, media_type, trust_pem=root_pem, no_default_trust=True, online=False
    )
    return report


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCYPHER_C2PA_TELEMETRY", "off")  # the operator switch: never send, never ask


@pytest.mark.parametrize(("media_type", "make", "tamper"), KINDS, ids=[k[0] for k in KINDS])
def test_encypher_validates_what_mintloom_signs(
    asset_signer: C2paAssetSigner,
    keystore: KeyStore,
    media_type: str,
    make: Callable[[], bytes],
    tamper: Callable[[bytes], bytes],
) -> None:
    signed = asset_signer.sign(make(), media_type, record(), title=f"asset ({media_type})")
    root = keystore.trust_anchor_pem()
    report = _encypher(signed.data, media_type, root)
    failures = [f["code"] for f in report["validation_results"]["failure"]]
    assert report["integrity"] == "valid", failures
    assert report["signature"] == "valid" and report["hard_binding"] == "match", failures
    assert report["trust"]["status"] == "valid_for_supplied_material"
    assert failures == []

    changed = tamper(signed.data)
    assert changed != signed.data
    bad = _encypher(changed, media_type, root)
    assert bad["integrity"] == "invalid" and bad["hard_binding"] == "mismatch"
    assert "assertion.dataHash.mismatch" in [f["code"] for f in bad["validation_results"]["failure"]]


def test_encypher_validates_the_text_sidecar_beside_the_text(
    asset_signer: C2paAssetSigner, keystore: KeyStore
) -> None:
    """``offer.txt`` + ``offer.txt.c2pa`` as exported: the detached store validates the shipped text."""
    signed = asset_signer.sign(text_bytes(), "text/plain", record(), title="offer.txt")
    assert signed.sidecar
    root = keystore.trust_anchor_pem()
    report = encypher_c2pa.verify(
        signed.data,
        "text/plain",
        manifest_store=signed.manifest,
        trust_pem=root,
        no_default_trust=True,
        online=False,
    )
    assert report["integrity"] == "valid" and report["hard_binding"] == "match"
    edited = encypher_c2pa.verify(
        _edit_text(signed.data), "text/plain", manifest_store=signed.manifest, trust_pem=root,
        no_default_trust=True, online=False,
    )  # fmt: skip
    assert edited["integrity"] == "invalid" and edited["hard_binding"] == "mismatch"


def test_encypher_does_not_trust_a_foreign_root(
    asset_signer: C2paAssetSigner, foreign_keystore: KeyStore
) -> None:
    """The trust verdict above comes from the workspace's root, not from anything encypher ships."""
    signed = asset_signer.sign(text_bytes(), "text/plain", record(), title="copy.txt")
    report = _encypher(signed.data, "text/plain", foreign_keystore.trust_anchor_pem())
    assert report["integrity"] == "valid" and report["trust"]["status"] != "valid_for_supplied_material"


C2PA_TS = Path(__file__).resolve().parents[1] / "interop" / "c2pa_ts_verify.mjs"


def _c2pa_ts(path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed (the Makefile's setup installs c2pa-ts with npm)"
    done = subprocess.run(
        [node, str(C2PA_TS), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=C2PA_TS.parents[2],
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(("media_type", "make", "tamper"), KINDS[:2], ids=[k[0] for k in KINDS[:2]])
def test_c2pa_ts_validates_what_mintloom_signs(
    asset_signer: C2paAssetSigner,
    tmp_path: Path,
    media_type: str,
    make: Callable[[], bytes],
    tamper: Callable[[bytes], bytes],
) -> None:
    signed = asset_signer.sign(make(), media_type, record(), title=f"asset ({media_type})")
    path = tmp_path / "asset"
    path.write_bytes(signed.data)
    good = _c2pa_ts(path)
    ok = {c["code"] for c in good["codes"] if c["success"]}
    assert good["manifest"] and good["valid"], good["codes"]
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= ok
    path.write_bytes(tamper(signed.data))
    bad = _c2pa_ts(path)
    assert bad["manifest"] and not bad["valid"]
    assert {"code": "assertion.dataHash.mismatch", "success": False} in bad["codes"]


# -- what the pipeline writes: a variant whose parent thumbnail came from the worker's preview -----

PIPELINE_SPEC = sample_spec(
    locales=("en-US",),
    formats=(
        "square",
        "leaderboard",
        "{name: landscape, encoding: jpeg}",
        "{name: medium-rectangle, encoding: webp}",
    ),
    copy=False,
    audio=False,
)
"""One master (square PNG) and three variants of it: a PNG and a JPEG (which c2pa-ts reads too) and a
WebP (encypher's alone)."""
THUMBNAIL_ASSERTION = re.compile(r"/c2pa\.assertions/c2pa\.thumbnail\.ingredient[^/]*$")
"""An ingredient thumbnail assertion's URL (c2pa-rs labels it with or without ``.jpeg`` or ``__n``)."""


def _thumbnail_refs(report: dict[str, Any], code: str, kind: str) -> list[str]:
    """The URLs of the ingredient thumbnail assertions encypher reports ``code`` for (``kind``:
    success or failure)."""
    entries = report["validation_results"][kind]
    return [e["url"] for e in entries if e["code"] == code and THUMBNAIL_ASSERTION.search(e["url"])]


def _parent_thumbnail_ref(report: dict[str, Any]) -> str:
    """The thumbnail URL the active manifest's single parentOf ingredient names (encypher's reading)."""
    manifests = report["manifest_report"]["manifests"]
    active = manifests[report["manifest_report"]["active_manifest"]]
    (parent,) = [
        a["data"] for a in active["assertions"]
        if a["label"].startswith("c2pa.ingredient") and a["data"]["relationship"] == "parentOf"
    ]  # fmt: skip
    url: str = parent["thumbnail"]["url"]
    return url


def test_independent_validators_accept_a_pipeline_variant_whose_parent_thumbnail_is_the_preview(
    studio: Studio, tmp_path: Path
) -> None:
    """The runner hands the signer the worker's gallery thumbnail of a master (``Parent.preview``),
    and the ingredient thumbnail of each variant is scaled from it. encypher-c2pa and c2pa-ts read
    the variants the campaign wrote: the parentOf ingredient names a JPEG thumbnail, its hashed
    reference matches, and nothing fails; a byte changed inside that thumbnail fails both."""
    spec = load_spec(write_sample_campaign(tmp_path / "campaign", PIPELINE_SPEC, sample_audience(1)))
    CampaignRunner(studio.run_parts(), spec, batch_size=5).run()
    catalog, anchors = Catalog(studio.db), studio.keys.trust_anchor_pem()
    rows = {row.format: row for row in catalog.assets("tiny")}
    master = rows["square"]
    gallery = Thumbnails(studio.db, studio.blobs).cached(master.cid)
    assert gallery is not None  # the worker's thumbnail, stored with the master
    expected = render_thumbnail(studio.blobs.get(gallery), edge=INGREDIENT_THUMB_EDGE)
    decoded = render_thumbnail(studio.blobs.get(master.cid), edge=INGREDIENT_THUMB_EDGE)
    assert expected is not None and expected != decoded  # the preview's bytes, not the parent decoded

    for fmt, media_type in (
        ("leaderboard", "image/png"),
        ("landscape", "image/jpeg"),
        ("medium-rectangle", "image/webp"),
    ):
        child = rows[fmt]
        assert catalog.parents(child.cid) == [(master.cid, "resized")] and child.media_type == media_type
        data = studio.blobs.get(child.cid)
        report = _encypher(data, media_type, anchors)
        failures = [f["code"] for f in report["validation_results"]["failure"]]
        assert report["validation_state"] == "Trusted" and failures == [], failures
        matched = _thumbnail_refs(report, "assertion.hashedURI.match", "success")
        named = _parent_thumbnail_ref(report).split("#jumbf=")[1]  # relative to the active manifest
        assert len(matched) == 1 and matched[0].endswith("/" + named), (matched, named)
        if media_type == "image/webp":
            continue  # c2pa-ts reads no WebP

        path = tmp_path / f"{fmt}.{child.extension}"
        path.write_bytes(data)
        ts = _c2pa_ts(path)
        assert ts["manifest"] and ts["valid"], ts["codes"]
        assert [c for c in ts["codes"] if not c["success"]] == []
        (ingredient,) = ts["ingredients"]
        thumb = ingredient["thumbnail"]
        assert ingredient["relationship"] == "parentOf" and thumb["hashMatch"], ingredient
        assert thumb["mediaType"] == "image/jpeg" and thumb["sha256"] == hashlib.sha256(expected).hexdigest()

    # the same JPEG variant with one byte of the recorded thumbnail changed (the pixels' hard binding
    # excludes the manifest): both validators see the thumbnail's hash fail
    data = studio.blobs.get(rows["landscape"].cid)
    assert data.count(expected) == 1
    at = data.index(expected) + len(expected) // 2
    changed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    bad = _encypher(changed, "image/jpeg", anchors)
    assert bad["validation_state"] == "Invalid", bad["validation_results"]["failure"]
    assert len(_thumbnail_refs(bad, "assertion.hashedURI.mismatch", "failure")) == 1
    path = tmp_path / "changed.jpg"
    path.write_bytes(changed)
    ts = _c2pa_ts(path)
    assert not ts["valid"] and {"code": "assertion.hashedURI.mismatch", "success": False} in ts["codes"]
    assert [i["thumbnail"]["hashMatch"] for i in ts["ingredients"]] == [False]
