"""A text-to-image hero layer per segment × locale under the brand's copy, logo and CTA, with the
tiny random-weight pipeline the session builds (loaded like a real model):

* the ads say ``compositeWithTrainedAlgorithmicMedia`` and name the model and its weights hash;
  the hero is a ``componentOf`` ingredient carrying its own signed manifest, which says
  ``trainedAlgorithmicMedia`` (checked with c2pa-python itself);
* one hero per segment × locale, shared by every format (signed once);
* audience values the prompt reads reach the model but no signed file, manifest or catalog row.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import c2pa
import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.engines import hero as hero_module
from mintloom.engines.diffusion import pipeline_hash
from mintloom.errors import SourceTypeMismatchError, SpecError
from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.credentials import IPTC, DigitalSourceType, GenerationRecord, Parent
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, verify_bytes
from tests.provenance.conftest import png_bytes
from tests.test_privacy import leaks

from .conftest import write_campaign

pytest.importorskip("diffusers")

# columns only the hero prompt reads (the ad's messages put name and city into its pixels and
# its catalog text, which is the personalised content itself)
CANARIES = ("CnryHeroScene-Wq83", "CnryHeroMood-Zx51")
PROMPT = "a warm cafe, {{ scene }}, {{ mood }} light"
AUDIENCE = (
    "segment,name,city,offer,currency,price,deadline,scene,mood\n"
    f"seg-a,Ana,Porto,15,EUR,3.90,2026-12-31,{CANARIES[0]},{CANARIES[1]}\n"
)


def hero_spec(model_path: Path, formats: tuple[str, ...] = ("square", "leaderboard")) -> str:
    hero = (
        f'  hero:\n    prompt: "{PROMPT}"\n'
        f"    model: {{model_path: '{model_path}', model_id: tiny/hero, steps: 1, width: 64, height: 64}}\n"
    )
    base = sample_spec(locales=("en-US", "ar-EG"), formats=formats, copy=False, audio=False)
    return base.replace("  logo: logo.png\n", "  logo: logo.png\n" + hero)


def read_store(path: Path) -> dict[str, Any]:
    ctx = c2pa.Context(settings=c2pa.Settings.from_dict({"verify": {"verify_trust": False}}))
    with c2pa.Reader("image/png", io.BytesIO(path.read_bytes()), context=ctx) as reader:
        store = json.loads(reader.json())
    assert isinstance(store, dict)
    return store


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    found = [a["data"] for a in manifest["assertions"] if str(a["label"]).startswith(label)]
    assert len(found) == 1
    data = found[0]
    assert isinstance(data, dict)
    return data


def _source_types(manifest: dict[str, Any]) -> set[str]:
    actions = _assertion(manifest, "c2pa.actions")["actions"]
    return {a["digitalSourceType"].removeprefix(IPTC) for a in actions if "digitalSourceType" in a}


@pytest.fixture
def hero_run(studio: Studio, tmp_path: Path, tiny_pipeline: Path) -> list[Path]:
    spec = write_campaign(tmp_path / "c", hero_spec(tiny_pipeline), AUDIENCE)
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    files = sorted((studio.workspace.out_dir / "tiny").rglob("*.png"))
    assert len(files) == 4  # 2 locales × 2 formats
    return files


def test_ads_composite_a_signed_model_layer(hero_run: list[Path], tiny_pipeline: Path) -> None:
    heroes: dict[str, set[str]] = {}
    for path in hero_run:
        store = read_store(path)
        active = store["manifests"][store["active_manifest"]]
        assert _source_types(active) == {"compositeWithTrainedAlgorithmicMedia"}, path
        generation = _assertion(active, "mintloom.generation")
        assert generation["model_id"] == "tiny/hero"
        assert generation["model_hash"] == pipeline_hash(tiny_pipeline)
        components = [i for i in active["ingredients"] if i["relationship"] == "componentOf"]
        assert len(components) == 1
        layer = store["manifests"][components[0]["active_manifest"]]
        assert _source_types(layer) == {"trainedAlgorithmicMedia"}
        layer_gen = _assertion(layer, "mintloom.generation")
        assert layer_gen["engine"] == "diffusers" and layer_gen["model_id"] == "tiny/hero"
        assert layer_gen["template_hash"] == hashlib.sha256(PROMPT.encode()).hexdigest()
        assert len(layer_gen["parameters"]["prompt_commitment"]) == 64
        assert layer_gen["parameters"]["steps"] == 1
        heroes.setdefault(path.parent.parent.name, set()).add(components[0]["active_manifest"])
    # one hero per segment × locale, the same (signed once) in every format; locales differ
    assert len(heroes) == 2 and all(len(h) == 1 for h in heroes.values())
    assert len(set().union(*heroes.values())) == 2


def test_verify_says_verified_for_an_ad_with_a_model_layer(hero_run: list[Path], studio: Studio) -> None:
    ctx = VerifyContext(trust_anchors_pem=studio.keys.trust_anchor_pem())
    report = verify_bytes(hero_run[0].read_bytes(), hero_run[0].name, ctx)
    assert report.verdict == Verdict.VERIFIED, report.checks
    assert report.origin["source_type"] == "compositeWithTrainedAlgorithmicMedia"
    assert report.origin["model"] == "tiny/hero"


def test_audience_values_in_the_prompt_never_leave_the_workspace(
    hero_run: list[Path], studio: Studio, tiny_pipeline: Path
) -> None:
    # positive control: the model was prompted with the audience values
    prompts = [art.prompt or "" for art in hero_module._cache.values()]
    assert any(leaks(p.encode(), CANARIES) for p in prompts)
    secrets = (*CANARIES, str(tiny_pipeline))
    for path in hero_run:
        assert not leaks(path.read_bytes(), secrets), path  # the signed file, manifests embedded
        assert not leaks(json.dumps(read_store(path)).encode(), secrets), path  # ingredients too
    for row in Catalog(studio.db).assets("tiny"):
        fields = {c.name: getattr(row, c.name) for c in row.__table__.columns}
        assert not leaks(json.dumps(fields, default=repr).encode(), secrets)
    for blob in studio.workspace.blobs_dir.rglob("*"):
        if blob.is_file():
            assert not leaks(blob.read_bytes(), secrets), blob


def test_a_hero_setting_the_engine_does_not_take_is_refused(tmp_path: Path, tiny_pipeline: Path) -> None:
    from mintloom.campaign.plan import plan_campaign
    from mintloom.engines.base import engine_registry

    spec = hero_spec(tiny_pipeline).replace("steps: 1", "stepz: 1")
    with pytest.raises(SpecError, match=r"brand\.hero\.model does not fit the diffusers engine"):
        plan_campaign(load_spec(write_campaign(tmp_path / "c", spec, AUDIENCE)), engine_registry())
    with pytest.raises(SpecError, match="api_key"):
        load_spec(
            write_campaign(
                tmp_path / "d", hero_spec(tiny_pipeline).replace("steps: 1", "api_key: x"), AUDIENCE
            )
        )


@pytest.mark.parametrize(
    "source_type", [DigitalSourceType.ALGORITHMIC, DigitalSourceType.TRAINED_ALGORITHMIC]
)
def test_a_composite_of_model_layers_must_say_so(studio: Studio, source_type: DigitalSourceType) -> None:
    signer: C2paAssetSigner = studio.asset_signer
    base = {"engine": "compositor", "engine_version": "1", "campaign": "c", "locale": "en-US"}
    layer_record = GenerationRecord.model_validate(
        {
            **base,
            "engine": "diffusers",
            "segment_commitment": "ab" * 32,
            "model_id": "m",
            "source_type": DigitalSourceType.TRAINED_ALGORITHMIC,
        }
    )
    layer = signer.sign(png_bytes(), "image/png", layer_record, title="layer.png")
    names = {} if source_type is DigitalSourceType.ALGORITHMIC else {"model_id": "m"}
    record = GenerationRecord.model_validate(
        {**base, "segment_commitment": "cd" * 32, "source_type": source_type, **names}
    )
    component = (Parent(data=layer.data, media_type="image/png", title="layer.png"),)
    with pytest.raises(SourceTypeMismatchError, match="composites 1 model layer"):
        signer.sign(png_bytes(), "image/png", record, title="ad.png", components=component)
    honest = record.model_copy(
        update={"source_type": DigitalSourceType.COMPOSITE_WITH_TRAINED, "model_id": "m"}
    )
    assert signer.sign(png_bytes(), "image/png", honest, title="ad.png", components=component).manifest


def test_the_hero_example_runs_on_the_labelled_tiny_stand_in(
    studio: Studio, tmp_path: Path, tiny_pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mintloom.campaign.examples import write_example
    from mintloom.engines.tiny_diffusion import TINY_MODEL_ID

    monkeypatch.setenv(hero_module.ENV_TINY_DIR, str(tiny_pipeline))  # the session's build, not ~/.cache
    spec = load_spec(write_example("lumen-hero", tmp_path / "ex", segments=1))
    assert spec.spec.brand.hero is not None and "model_path" not in spec.spec.brand.hero.model
    CampaignRunner(studio.run_parts(), spec).run()
    files = sorted((studio.workspace.out_dir / "lumen-hero").rglob("*.png"))
    assert len(files) == 6  # 1 segment × 2 locales × 3 formats
    for path in files:
        store = read_store(path)
        generation = _assertion(store["manifests"][store["active_manifest"]], "mintloom.generation")
        assert generation["model_id"] == TINY_MODEL_ID == "mintloom/tiny-random-sd"
