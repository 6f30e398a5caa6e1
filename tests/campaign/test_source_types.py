"""The IPTC digital source type a signed manifest states, per engine kind, read back from the
exported files with c2pa-python itself (not through mintloom's reader):

* procedural output (compositor ads, template copy, the sound logo) says ``algorithmicMedia`` and
  names no model; the spec's ``lineage.model`` (a procedural layout recipe) is its ``recipe``;
* copy a model wrote says ``trainedAlgorithmicMedia`` and names the served model;
* ads whose messages a model wrote composite its text: ``compositeWithTrainedAlgorithmicMedia``,
  naming that model, for the master and the variants derived from it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.errors import SourceTypeMismatchError
from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.credentials import IPTC, DigitalSourceType, GenerationRecord, derived_source_type
from mintloom.studio import Studio
from tests.engines.chat_stub import serve_chat
from tests.provenance.conftest import png_bytes

from .conftest import write_campaign

RECIPE = "lumen-layout-v1"
LINEAGE = f'lineage:\n  model: "{RECIPE}"\n'
_FORMATS = {".png": "image/png", ".wav": "audio/wav"}


def manifest(path: Path) -> dict[str, Any]:
    """The active manifest of an exported file, as c2pa-python reads it: from the ``.c2pa``
    sidecar (a manifest store read on its own) or the file's embedded store."""
    sidecar = path.with_name(path.name + ".c2pa")
    ctx = c2pa.Context(settings=c2pa.Settings.from_dict({"verify": {"verify_trust": False}}))
    if sidecar.exists():
        stream, fmt = io.BytesIO(sidecar.read_bytes()), "application/c2pa"
    else:
        stream, fmt = io.BytesIO(path.read_bytes()), _FORMATS[path.suffix]
    with c2pa.Reader(fmt, stream, context=ctx) as reader:
        active = reader.get_active_manifest()
    assert isinstance(active, dict)
    return active


def assertion(active: dict[str, Any], label: str) -> dict[str, Any]:
    found = [a["data"] for a in active["assertions"] if str(a["label"]).startswith(label)]
    assert len(found) == 1, (label, [a["label"] for a in active["assertions"]])
    data = found[0]
    assert isinstance(data, dict)
    return data


def source_types(active: dict[str, Any]) -> set[str]:
    """The digital source types the manifest's actions state (opened carries none)."""
    actions = assertion(active, "c2pa.actions")["actions"]
    return {a["digitalSourceType"].removeprefix(IPTC) for a in actions if a["action"] != "c2pa.opened"}


def exported(studio: Studio, campaign: str, suffix: str) -> list[Path]:
    files = sorted((studio.workspace.out_dir / campaign).rglob(f"*{suffix}"))
    assert files, suffix
    return files


def test_procedural_outputs_say_algorithmic_media_and_name_no_model(studio: Studio, tmp_path: Path) -> None:
    spec = sample_spec(locales=("en-US",), formats=("square", "leaderboard")) + LINEAGE
    CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c", spec))).run()
    for suffix in (".png", ".txt", ".wav"):
        for path in exported(studio, "tiny", suffix):
            active = manifest(path)
            assert source_types(active) == {"algorithmicMedia"}, path
            generation = assertion(active, "mintloom.generation")
            assert "model_id" not in generation and "model_hash" not in generation, path
            assert generation["recipe"] == RECIPE
            assert RECIPE not in json.dumps(assertion(active, "c2pa.actions"))
            assert generation["source_type"] == DigitalSourceType.ALGORITHMIC


def test_verify_reports_the_procedural_recipe_not_a_model(studio: Studio, tmp_path: Path) -> None:
    from mintloom.cli.console import console
    from mintloom.cli.verify import _print_file
    from mintloom.verify.report import LicenseInfo, ModelLineage
    from mintloom.verify.verifier import VerifyContext, verify_bytes

    spec = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False) + LINEAGE
    CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c", spec))).run()
    path = exported(studio, "tiny", ".png")[0]
    ctx = VerifyContext(trust_anchors_pem=studio.keys.trust_anchor_pem())
    report = verify_bytes(path.read_bytes(), path.name, ctx)
    assert report.origin["model"] is None and report.origin["recipe"] == RECIPE
    assert report.origin["source_type"] == "algorithmicMedia"
    assert report.credential is not None and report.credential.status == "trusted"
    actions = [(a.action, a.source_type) for a in report.credential.actions]
    assert actions == [("c2pa.created", "algorithmicMedia")]
    # the chain's lineage names the registered recipe under its model registry: shown as the recipe
    report.license = LicenseInfo(model=ModelLineage(id=1, trainer="0xTrainer", license="Apache-2.0"))
    with console.capture() as captured:
        _print_file(report, "here")
    out = captured.get()
    assert f"{RECIPE} (procedural: no trained model ran)" in out and "recipe on chain" in out
    assert "model on chain" not in out


def test_a_procedural_variant_of_model_output_is_a_composite() -> None:
    """mintloom re-renders variants: a procedural engine's variant of model output composites it."""
    algorithmic, trained = DigitalSourceType.ALGORITHMIC, DigitalSourceType.TRAINED_ALGORITHMIC
    composite = DigitalSourceType.COMPOSITE_WITH_TRAINED
    assert derived_source_type(algorithmic, True) is composite
    assert derived_source_type(algorithmic, False) is algorithmic
    assert derived_source_type(trained, True) is trained
    assert derived_source_type(composite, False) is composite


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with serve_chat() as url:
        yield url


def test_model_written_copy_says_trained_media_and_names_the_served_model(
    studio: Studio, tmp_path: Path, chat: str
) -> None:
    pytest.importorskip("httpx")
    model_copy = f"copy:\n  engine: openai-compat\n  model: {{base_url: '{chat}', model: tiny}}\n"
    model_copy += '  templates:\n    note: "write a note for {{ name }}"\n'
    spec = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False)
    spec = spec.replace("audio:\n", model_copy + "audio:\n") + LINEAGE
    CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c", spec))).run()
    for path in exported(studio, "tiny", ".txt"):
        active = manifest(path)
        assert source_types(active) == {"trainedAlgorithmicMedia"}
        generation = assertion(active, "mintloom.generation")
        assert generation["model_id"] == "tiny-served" and generation["model_hash"] == "fp_test"
        assert "recipe" not in generation  # the layout recipe did not write this text
    for path in exported(studio, "tiny", ".png"):  # the ads in the same campaign stay procedural
        assert source_types(manifest(path)) == {"algorithmicMedia"}
        assert "model_id" not in assertion(manifest(path), "mintloom.generation")


def test_ads_with_model_written_messages_are_composites_naming_the_model(
    studio: Studio, tmp_path: Path
) -> None:
    spec = sample_spec(locales=("en-US", "ar-EG"), formats=("square", "leaderboard"), copy=False)
    spec = spec.replace("  messages:\n", "  messages_model: acme/ad-writer-7b\n  messages:\n", 1) + LINEAGE
    CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c", spec))).run()
    actions_seen: set[str] = set()
    for path in exported(studio, "tiny", ".png"):  # created, translated and resized ads alike
        active = manifest(path)
        assert source_types(active) == {"compositeWithTrainedAlgorithmicMedia"}, path
        generation = assertion(active, "mintloom.generation")
        assert generation["model_id"] == "acme/ad-writer-7b" and "recipe" not in generation
        actions_seen |= {a["action"] for a in assertion(active, "c2pa.actions")["actions"]}
    assert {"c2pa.created", "c2pa.translated", "c2pa.resized"} <= actions_seen
    for path in exported(studio, "tiny", ".wav"):  # no model wrote the sound logo
        assert source_types(manifest(path)) == {"algorithmicMedia"}


def test_a_hostile_messages_model_name_is_refused(tmp_path: Path) -> None:
    spec = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False)
    spec = spec.replace("  messages:\n", "  messages_model: ../../etc/passwd\n  messages:\n", 1)
    with pytest.raises(Exception, match="messages_model"):
        load_spec(write_campaign(tmp_path / "c", spec))


@pytest.mark.parametrize(
    ("source_type", "names"),
    [
        (DigitalSourceType.ALGORITHMIC, {"model_id": "lumen-layout-v1"}),
        (DigitalSourceType.ALGORITHMIC, {"model_hash": "ab" * 32}),
        (DigitalSourceType.TRAINED_ALGORITHMIC, {"model_id": "m", "recipe": "lumen-layout-v1"}),
        (DigitalSourceType.COMPOSITE_WITH_TRAINED, {"model_id": "m", "recipe": "lumen-layout-v1"}),
    ],
)
def test_signing_refuses_a_source_type_the_record_contradicts(
    asset_signer_for_test: C2paAssetSigner, source_type: DigitalSourceType, names: dict[str, str]
) -> None:
    """What mintloom labelled before: algorithmicMedia naming the layout recipe as its model."""
    base = {"engine": "compositor", "engine_version": "1", "campaign": "c", "locale": "en-US"}
    record = GenerationRecord.model_validate(
        {**base, "segment_commitment": "cd" * 32, "source_type": source_type, **names}
    )
    with pytest.raises(SourceTypeMismatchError, match="refusing to sign"):
        asset_signer_for_test.sign(png_bytes(), "image/png", record, title="ad.png")


@pytest.fixture
def asset_signer_for_test(studio: Studio) -> C2paAssetSigner:
    return studio.asset_signer
