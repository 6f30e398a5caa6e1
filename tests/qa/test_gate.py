"""The brand QA gate end to end: a brand kit whose colours cannot reach WCAG contrast is held
(logged, not exported, listed with the reason), and the gate reads pixels, not the engine's claims."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.qa import QASpec, evaluate
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.cli.console import console
from mintloom.cli.main import app
from mintloom.engines.base import engine_registry
from mintloom.engines.image import ImageCompositor
from mintloom.engines.qa import LayoutFacts, measure
from mintloom.errors import SearchQueryError
from mintloom.store.annotations import Annotations
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio

# mid greys: neither white nor near-black text reaches 4.5:1 on them (both top out near 4.4:1),
# which small text (a medium rectangle's body and button) needs. The compositor draws such text
# over a scrim (a button shaded) until it reaches WCAG AA; a campaign demanding AAA (7:1 body,
# 4.5:1 large) of this kit is what the gate holds.
GREY_KIT = '["#7a7a7a", "#787878", "#7c7c7c"]'
AAA = "qa:\n  contrast:\n    body: 7\n    large: 4.5\n"


def _spec(folder: Path, palette: str | None = None, qa: str = "") -> Path:
    text = sample_spec(locales=("en-US",), formats=("medium-rectangle",), copy=False, audio=False)
    text += "master: medium-rectangle\n"
    if palette is not None:
        text = text.replace('["#1d3557", "#e63946", "#f1faee"]', palette)
    return write_sample_campaign(folder, text + qa, sample_audience(1))


def _rendered(spec: Path):  # type: ignore[no-untyped-def]
    job = next(j for j in plan_campaign(load_spec(spec), engine_registry()).jobs if j.kind == "image")
    return job, ImageCompositor().render_pixels(job.request)


def test_low_contrast_brand_kit_is_held_with_the_reason_named(studio: Studio, tmp_path: Path) -> None:
    spec = _spec(tmp_path / "grey", GREY_KIT, AAA)
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    notes, catalog = Annotations(studio.db), Catalog(studio.db)
    [(asset, row)] = notes.qa_reports("tiny")
    assert row.held
    report = json.loads(row.report)
    failing = [f for f in report["findings"] if not f["passed"] and f["blocking"]]
    assert failing and {f["rule"] for f in failing} == {"contrast"}
    assert all(f["subject"] in ("headline", "body", "cta") and f["measured"] < 7 for f in failing)
    assert all(f"needs {4.5 if f['subject'] == 'headline' else 7.0}:1" in f["detail"] for f in failing)
    # logged (the log says what was made) but neither exported nor listed as an export
    assert studio.log.size == 1
    assert not (studio.workspace.out_dir / "tiny" / asset.path).exists()
    assert catalog.exports("tiny") == []
    # a rerun restores exports from the store: still not the held asset
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    assert not (studio.workspace.out_dir / "tiny" / asset.path).exists()


def test_contrast_rule_made_non_blocking_exports_the_asset(studio: Studio, tmp_path: Path) -> None:
    spec = _spec(tmp_path / "grey", GREY_KIT, AAA + "    blocking: false\n")
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    [(asset, row)] = Annotations(studio.db).qa_reports("tiny")
    findings = json.loads(row.report)["findings"]
    assert not row.held and any(f["rule"] == "contrast" and not f["passed"] for f in findings)
    assert (studio.workspace.out_dir / "tiny" / asset.path).is_file()


def test_the_sample_brand_kit_passes(studio: Studio, tmp_path: Path) -> None:
    CampaignRunner(studio.run_parts(), load_spec(_spec(tmp_path / "ok"))).run()
    [(asset, row)] = Annotations(studio.db).qa_reports("tiny")
    assert not row.held, json.loads(row.report)
    assert (studio.workspace.out_dir / "tiny" / asset.path).is_file()


def test_text_covered_after_drawing_is_caught_from_the_pixels(tmp_path: Path) -> None:
    """The layout still claims the body is there; its pixels say it is not."""
    job, rendered = _rendered(_spec(tmp_path / "ok"))
    assert rendered.layout is not None
    spec = QASpec()
    assert not evaluate(
        measure(rendered.pixels, rendered.layout, job.request.brand.palette), spec, "medium-rectangle"
    ).held
    body = next(t for t in rendered.layout.texts if t.field == "body")
    covered = np.asarray(rendered.pixels).copy()
    x0, y0, x1, y1 = body.ink
    covered[y0:y1, x0:x1] = covered[y0 - 3, x0]  # painted over with the background beside it
    report = evaluate(
        measure(Image.fromarray(covered), rendered.layout, job.request.brand.palette),
        spec,
        "medium-rectangle",
    )
    assert report.held
    assert any("body: no pixel of its colour" in r for r in report.reasons())


def test_text_painted_in_its_background_colour_has_contrast_one(tmp_path: Path) -> None:
    job, rendered = _rendered(_spec(tmp_path / "ok"))
    assert rendered.layout is not None
    body = next(t for t in rendered.layout.texts if t.field == "body")
    x0, y0, x1, y1 = body.ink
    flat = np.asarray(rendered.pixels).copy()
    colour = np.array([int(body.colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    flat[y0 - 8 : y1 + 8, x0 - 8 : x1 + 8] = colour  # text and background the same colour
    m = measure(Image.fromarray(flat), rendered.layout, job.request.brand.palette)
    assert next(t for t in m.texts if t.field == "body").contrast == pytest.approx(1.0)


def test_overflow_logo_copy_length_and_model_layer_rules(tmp_path: Path) -> None:
    job, rendered = _rendered(_spec(tmp_path / "ok"))
    facts = rendered.layout
    assert facts is not None
    head = next(t for t in facts.texts if t.field == "headline")
    moved = head.model_copy(update={"ink": (head.ink[0], head.ink[1], facts.width + 40, head.ink[3])})
    hostile = LayoutFacts(
        width=facts.width,
        height=facts.height,
        texts=tuple(moved if t.field == "headline" else t for t in facts.texts),
        logo=(0, 0, 10, 10),
        button=facts.button,
        model_layers=(head.ink,),
    )
    spec = QASpec.model_validate({"copy_length": {"formats": {"medium-rectangle": {"headline": 5}}}})
    report = evaluate(measure(rendered.pixels, hostile, job.request.brand.palette), spec, "medium-rectangle")
    failed = {f.rule for f in report.findings if not f.passed}
    assert {"overflow", "logo_size", "logo_clear_space", "copy_length", "model_layer"} <= failed
    assert report.held


def test_qa_and_search_commands(studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CampaignRunner(studio.run_parts(), load_spec(_spec(tmp_path / "grey", GREY_KIT, AAA))).run()
    monkeypatch.setattr(console, "width", 240)
    runner = CliRunner()
    table = runner.invoke(app, ["qa", "tiny"])
    assert table.exit_code == 0, table.output
    assert "brand QA" in table.output and "1 images checked, 1 held" in table.output
    assert "held" in table.output and "contrast:" in table.output and "needs 7.0:1" in table.output
    as_json = runner.invoke(app, ["qa", "tiny", "--json"])
    assert json.loads(as_json.output)[0]["held"] is True
    [(asset, _)] = Annotations(studio.db).qa_reports("tiny")
    found = runner.invoke(app, ["search", "kind:image locale:en-US"])
    assert found.exit_code == 0 and asset.cid in found.output, found.output
    refused = runner.invoke(app, ["search", "segment:students"])  # the error boundary is in run()
    assert isinstance(refused.exception, SearchQueryError) and refused.exception.exit_code == 10
    assert "known key" in refused.exception.message
