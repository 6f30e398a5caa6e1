"""Output encodings (issue 14): a spec's format may ask for PNG, JPEG or WebP. Each is signed with
an embedded C2PA manifest that c2pa-python reads back, verifies VERIFIED as a file and inside a
folder, and a copy with the metadata stripped is found again by fingerprint."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import c2pa
import pytest
from PIL import Image

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import verify_context
from mintloom.errors import SpecError
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, sniff, verify_bytes, verify_path
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

ENCODINGS = {
    "png": ("medium-rectangle", "image/png"),
    "jpeg": ("square", "image/jpeg"),
    "webp": ("landscape", "image/webp"),
}
FORMATS = tuple(f"{{name: {name}, encoding: {enc}}}" for enc, (name, _) in ENCODINGS.items())


class Encoded:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.ctx: VerifyContext = verify_context(studio, offline=True)
        self.rows = {
            r.format: r for r in Catalog(studio.db).assets("enc", kind="image") if r.locale == "en-US"
        }
        self.blobs = LocalBlobStore(studio.workspace.blobs_dir)

    def row(self, encoding: str) -> AssetRow:
        return self.rows[ENCODINGS[encoding][0]]

    def data(self, encoding: str) -> bytes:
        return self.blobs.get(self.row(encoding).cid)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Encoded]:
    root = tmp_path_factory.mktemp("encodings")
    spec = sample_spec(campaign="enc", locales=("en-US",), formats=FORMATS, copy=False, audio=False)
    path = write_sample_campaign(root / "campaign", spec, sample_audience(1))
    studio = Studio(Workspace.init(root / "ws"), password=PASSWORD)
    studio.ensure_keys()
    CampaignRunner(studio.run_parts(), load_spec(path), batch_size=4).run()
    yield Encoded(studio)
    studio.close()


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_each_encoding_is_written_and_signed_in_its_own_container(encoded: Encoded, encoding: str) -> None:
    data, media_type = encoded.data(encoding), ENCODINGS[encoding][1]
    assert sniff(data) == media_type
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[encoding]
    with c2pa.Reader(media_type, io.BytesIO(data)) as reader:
        store = json.loads(reader.json())
        state = reader.get_validation_state()
    manifest = store["manifests"][store["active_manifest"]]
    # the hashes bind the manifest to these bytes; only the (test) signer is not on c2pa's trust list
    assert state in ("Valid", "Trusted"), store.get("validation_results")
    assert any(a["label"] == "mintloom.generation" for a in manifest["assertions"])


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_each_encoding_verifies_as_exported(encoded: Encoded, encoding: str) -> None:
    row = encoded.row(encoding)
    out = encoded.studio.workspace.out_dir / "enc" / row.path
    ext = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[encoding]
    assert out.suffix == ext and out.read_bytes() == encoded.data(encoding)
    report = verify_path(out, encoded.ctx)
    assert report.verdict is Verdict.VERIFIED and report.binding == "hard", report.checks


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_each_encoding_stripped_of_metadata_is_found_by_fingerprint(encoded: Encoded, encoding: str) -> None:
    with Image.open(io.BytesIO(encoded.data(encoding))) as img:
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "PNG")
    stripped = buf.getvalue()
    assert b"c2pa" not in stripped
    report = verify_bytes(stripped, "copy.png", encoded.ctx)
    assert report.verdict is Verdict.VERIFIED and report.binding == "fingerprint", report.checks
    assert report.matched_cid == encoded.row(encoding).cid


def test_a_flipped_byte_in_a_signed_jpeg_or_webp_is_tampered(encoded: Encoded) -> None:
    for encoding, marker in (("jpeg", b"\xff\xda"), ("webp", b"VP8")):
        data = bytearray(encoded.data(encoding))
        data[data.rindex(marker) + 300] ^= 0x40  # inside the compressed pixels
        report = verify_bytes(bytes(data), f"x.{encoding}", encoded.ctx)
        assert report.verdict is Verdict.TAMPERED, (encoding, report.checks)


def test_an_unknown_encoding_or_a_sizeless_custom_format_is_refused(tmp_path: Path) -> None:
    for fmt in ("{name: square, encoding: gif}", "{name: banner, encoding: png}"):
        spec = sample_spec(campaign="bad", locales=("en-US",), formats=(fmt,), copy=False, audio=False)
        path = write_sample_campaign(tmp_path / fmt.count("gif").__str__(), spec, sample_audience(1))
        with pytest.raises(SpecError):
            load_spec(path)
