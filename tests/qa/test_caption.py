"""Alt text from a captioning model: a tiny random-weight VisionEncoderDecoder built here with
save_pretrained (nothing downloads) and loaded through the same from_pretrained path a real model
takes. The caption leads the alt text of the caption's language (catalog and embedded XMP, before
signing: verify still says VERIFIED), the other locales keep the copy-based alt text, the model's
id and folder hash are in the signed lineage, its weights are hashed once per process, a job is
captioned the same on every run, and a caption that repeats an audience value is dropped."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.campaign.tagging import alt_texts
from mintloom.chain_lookup import verify_context
from mintloom.engines import caption as caption_mod
from mintloom.engines.base import Artifact, BrandStyle, GenerationRequest, engine_registry
from mintloom.engines.caption import CaptionEngine, hash_folder
from mintloom.engines.params import CaptionParams
from mintloom.errors import EngineError, ExecutionError, ModelLoadError, SpecError
from mintloom.provenance.credentials import GenerationParameters
from mintloom.store.annotations import Annotations
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import verify_path
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD
from tests.qa.tiny_caption import TINY_CAPTION_ID, build_tiny_captioner

pytest.importorskip("transformers", reason="the captioning engine is the transformers extra")

CANARIES = ("CnryCapName4v", "CnryCapCity8m", "CnryCapSeg2q")
AUDIENCE = (
    "segment,name,city,offer,currency,price,deadline\n"
    f"{CANARIES[2]},{CANARIES[0]},{CANARIES[1]},15,EUR,3.90,2026-12-31\n"
)
FORMATS = ("square", "{name: landscape, encoding: jpeg}")
EXIFTOOL = shutil.which("exiftool")


def _captions(model: Path) -> str:
    return f"captions:\n  model_path: {model}\n  model_id: {TINY_CAPTION_ID}\n  max_new_tokens: 6\n"


def _spec(root: Path, model: Path, campaign: str = "captioned") -> Path:
    spec = sample_spec(
        campaign=campaign, formats=("square", "{name: landscape, encoding: jpeg}"), copy=False, audio=False
    )
    return write_sample_campaign(root, spec + _captions(model), AUDIENCE)


def _run(root: Path, spec: Path) -> Studio:
    studio = Studio(Workspace.init(root), password=PASSWORD)
    studio.ensure_keys()
    CampaignRunner(studio.run_parts(), load_spec(spec), batch_size=4).run()
    return studio


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_captioner(tmp_path_factory.mktemp("captioner") / "tiny")


@pytest.fixture(scope="module")
def captioned(tmp_path_factory: pytest.TempPathFactory, model: Path) -> Iterator[Studio]:
    root = tmp_path_factory.mktemp("captioned")
    studio = _run(root / "ws", _spec(root / "campaign", model))
    yield studio
    studio.close()


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def _caption(model: Path, image: bytes, seed: int = 3) -> Artifact:
    request = GenerationRequest(
        kind="copy",
        seed=seed,
        locale="en-US",
        brand=BrandStyle(palette=("#000000", "#ffffff")),
        params=CaptionParams(model_path=str(model), image=image, max_new_tokens=6),
    )
    return CaptionEngine().generate(request)


def _images(studio: Studio) -> list[AssetRow]:
    return Catalog(studio.db).assets("captioned", kind="image")


def test_the_engine_captions_deterministically_and_names_its_weights(model: Path) -> None:
    first, again = _caption(model, _png((10, 50, 200))), _caption(model, _png((10, 50, 200)))
    assert first.data == again.data and first.data.strip()
    assert _caption(model, _png((240, 200, 20))).data != first.data  # it looks at the picture
    assert first.model_hash == hash_folder(model) and first.model_id == "local-" + first.model_hash[:16]
    assert first.digital_source_type == "trainedAlgorithmicMedia"
    assert str(model) not in first.model_dump_json()  # the folder is never recorded


def test_the_weights_are_hashed_once_per_process_and_again_when_they_change(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = shutil.copytree(model, tmp_path / "copy")
    calls: list[Path] = []
    real = caption_mod.hash_folder
    monkeypatch.setattr(caption_mod, "hash_folder", lambda folder: calls.append(folder) or real(folder))
    hashes = {_caption(copy, _png((i * 40, 20, 90))).model_hash for i in range(3)}
    assert len(calls) == 1 and len(hashes) == 1
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")  # other bytes: other weights
    assert caption_mod.caption_model_hash(copy) != hashes.pop() and len(calls) == 2


def test_hostile_model_folders_and_images_are_refused_by_name(tmp_path: Path, model: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        _caption(tmp_path / "empty", _png((0, 0, 0)))
    broken = shutil.copytree(model, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not weights")
    caption_mod._load.cache_clear()
    with pytest.raises(ModelLoadError, match="cannot load"):
        _caption(broken, _png((0, 0, 0)))
    with pytest.raises(EngineError, match="failed"):
        _caption(model, b"\x89PNG\r\n\x1a\n not an image")
    with pytest.raises(EngineError, match="no image"):
        _caption(model, b"")


def test_the_spec_refuses_a_path_as_model_id(tmp_path: Path, model: Path) -> None:
    spec = _spec(tmp_path, model)
    spec.write_text(spec.read_text().replace(TINY_CAPTION_ID, "../../etc/passwd"))
    with pytest.raises(SpecError):
        load_spec(spec)


def test_a_missing_model_stops_the_run_naming_the_folder(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "campaign", tmp_path / "nowhere")
    studio = Studio(Workspace.init(tmp_path / "ws"), password=PASSWORD)
    studio.ensure_keys()
    with pytest.raises(ExecutionError, match="nowhere"):
        CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    studio.close()


def test_the_caption_leads_the_alt_text_in_its_language(captioned: Studio, model: Path) -> None:
    notes = Annotations(captioned.db)
    for row in _images(captioned):
        alts = notes.alt_texts(row.cid)
        en, ar = alts["en-US"], alts["ar-EG"]
        assert en.endswith(". Lumen: …, …% off — From … in … (Claim)") and len(en) > len(". Lumen: ")
        assert ar.startswith("Lumen: ")  # not the caption's language: the copy-based alt text
        assert en.split(". Lumen:")[0][0].isupper()


def test_exiftool_reads_the_caption_and_verify_still_says_verified(captioned: Studio, model: Path) -> None:
    assert EXIFTOOL is not None, "exiftool is missing: apt-get install libimage-exiftool-perl (.ci/run does)"
    notes = Annotations(captioned.db)
    for row in _images(captioned):
        path = captioned.workspace.out_dir / "captioned" / row.path
        out = subprocess.run(
            [EXIFTOOL, "-j", "-G1", "-XMP:all", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        xmp = json.loads(out.stdout)[0]
        assert xmp["XMP-dc:Description-en-US"] == notes.alt_texts(row.cid)["en-US"]
        report = verify_path(path, verify_context(captioned, offline=True))
        assert report.verdict == Verdict.VERIFIED, report.checks
        assert report.origin["caption_model"] == TINY_CAPTION_ID
        assert report.origin["caption_model_hash"] == hash_folder(model)


def test_a_job_is_captioned_the_same_on_every_run(captioned: Studio, model: Path, tmp_path: Path) -> None:
    again = _run(tmp_path / "ws", _spec(tmp_path / "campaign", model))
    try:
        first = {r.job_key: Annotations(captioned.db).alt_texts(r.cid) for r in _images(captioned)}
        second = {r.job_key: Annotations(again.db).alt_texts(r.cid) for r in _images(again)}
        assert first == second and len(first) == 4
    finally:
        again.close()


@pytest.mark.parametrize(
    "leak", [CANARIES[0].lower(), f"a photo of {CANARIES[1]} at dusk", CANARIES[2].upper()]
)
def test_a_caption_repeating_an_audience_value_is_dropped(tmp_path: Path, model: Path, leak: str) -> None:
    """A real model may read the personalised copy off the pixels: that caption never reaches
    the alt text (the copy-based one stands), a harmless one does."""
    loaded = load_spec(_spec(tmp_path, model))
    job = next(j for j in plan_campaign(loaded, engine_registry()).jobs if j.kind == "image")
    art = Artifact(
        data=b"",
        media_type="image/png",
        extension="png",
        engine="compositor",
        engine_version="1",
        seed=1,
        parameters=GenerationParameters(),
    )
    fallback = alt_texts(loaded.spec, job, art)
    assert alt_texts(loaded.spec, job, art, leak) == fallback
    kept = alt_texts(loaded.spec, job, art, "a red cup on a table")
    assert (
        kept["en-US"] == "A red cup on a table. " + fallback["en-US"] and kept["ar-EG"] == fallback["ar-EG"]
    )


def test_no_audience_value_reaches_the_captioned_outputs(captioned: Studio) -> None:
    with captioned.db.session() as s:
        internal = " ".join(r.tags for r in s.query(AssetRow).all())
    assert CANARIES[0] in internal  # positive control: the copy was personalised
    for row in _images(captioned):
        data = (captioned.workspace.out_dir / "captioned" / row.path).read_bytes().decode("latin-1")
        alts = " ".join(Annotations(captioned.db).alt_texts(row.cid).values())
        for canary in CANARIES:
            assert canary.casefold() not in data.casefold() and canary.casefold() not in alts.casefold()
