"""The example campaign passes the brand QA gate: every one of its 224 ads, every rule that
blocks (its palette was changed to make that true, not the rules)."""

from __future__ import annotations

from mintloom.campaign.examples import example_source
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.qa import evaluate
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry
from mintloom.engines.image import ImageCompositor
from mintloom.engines.qa import measure


def test_every_example_ad_passes_the_blocking_rules() -> None:
    loaded = load_spec(example_source("lumen") / "campaign.yaml")
    jobs = [j for j in plan_campaign(loaded, engine_registry()).jobs if j.kind == "image"]
    assert len(jobs) == 224
    compositor, held = ImageCompositor(), []
    for job in jobs:
        rendered = compositor.render_pixels(job.request)
        assert rendered.layout is not None
        m = measure(rendered.pixels, rendered.layout, job.request.brand.palette)
        report = evaluate(m, loaded.spec.qa, job.format)
        if report.held:
            held.append((job.title, report.reasons()))
    assert held == []
