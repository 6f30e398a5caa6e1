"""Planning scales with the audience (issue 14): a spec's message templates are parsed once,
not once per audience row and field (that was ~1 ms x rows x fields)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.bench.compare import audience_csv, campaign_yaml
from mintloom.campaign import plan as plan_module
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry


def test_templates_are_parsed_once_per_spec_not_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = plan_module.template_variables

    def counted(source: str, *, what: str = "copy template") -> tuple[frozenset[str], frozenset[str]]:
        parsed.append(source)
        return real(source, what=what)

    monkeypatch.setattr(plan_module, "template_variables", counted)
    plan_module._template_variables.cache_clear()
    text = campaign_yaml("rows", "png", "medium-rectangle").replace("seed: 5", "seed: 9")
    path = write_sample_campaign(tmp_path, text, audience_csv(300, duplicate_every=7))
    plan = plan_campaign(load_spec(path), engine_registry())
    assert len(plan.jobs) == 300
    assert len(parsed) == len(set(parsed)) == 3  # headline, body, cta
