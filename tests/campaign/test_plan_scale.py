"""Planning scales with the audience (issue 14): a spec's message templates are parsed once,
not once per audience row and field (that was ~1 ms x rows x fields)."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest

from mintloom.bench.compare import audience_csv, campaign_yaml
from mintloom.campaign import plan as plan_module
from mintloom.campaign.examples import example_source
from mintloom.campaign.plan import Job, plan_campaign
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import LoadedSpec, Segment, load_spec
from mintloom.engines.base import Engine, engine_registry
from mintloom.engines.params import ParamValue
from mintloom.errors import SpecError
from tests.campaign.conftest import reference_key


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


def _reference_key(job: Job, engine: Engine, loaded: LoadedSpec) -> str:
    """A job key as planning computed it before it encoded shared parts once: the sha-256 of
    ``json.dumps`` of the whole job document."""
    return reference_key(engine, job.request, job.parent, job.template_hash, loaded)


def _lumen(tmp_path: Path, rows: int) -> LoadedSpec:
    """The example campaign (4 locales, 7 formats, copy, sound logo) with generated rows."""
    folder = tmp_path / "lumen"
    shutil.copytree(example_source("lumen"), folder)
    (folder / "audience.csv").write_text(audience_csv(rows, duplicate_every=4))
    return load_spec(folder / "campaign.yaml")


def test_every_job_key_is_the_hash_of_its_whole_document(tmp_path: Path) -> None:
    # image masters, translations and variants, copy and the sound logo, duplicated rows
    loaded = _lumen(tmp_path, 12)
    engines = engine_registry()
    plan = plan_campaign(loaded, engines)
    assert {j.kind for j in plan.jobs} == {"image", "copy", "audio"} and len(plan.jobs) == 12 * 4 * 8 + 1
    assert [j.key for j in plan.jobs] == [_reference_key(j, engines[j.engine], loaded) for j in plan.jobs]


def test_a_locale_s_messages_are_worked_out_once_not_once_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = plan_module.needed_variables

    def counted(source: str, seg: Segment, *, locale: str, field: str) -> dict[str, ParamValue]:
        calls.append(field)
        return real(source, seg, locale=locale, field=field)

    monkeypatch.setattr(plan_module, "needed_variables", counted)
    plan = plan_campaign(_lumen(tmp_path, 200), engine_registry())
    assert plan.count("image") == 200 * 4 * 7
    images = [f for f in calls if not f.startswith("copy.")]
    assert len(images) == 4 * 3  # headline, body, cta per locale (was per row: 2,400)


def test_a_row_missing_a_variable_is_refused_by_row_and_field_after_the_first(tmp_path: Path) -> None:
    cells = {"offer": "10", "city": "X", "price": "1", "currency": "EUR"}
    rows = [{"segment": f"s{i}", "name": f"N{i}", **cells} for i in range(40)]
    del rows[30]["city"]  # the body reads it
    text = campaign_yaml("gap", "png", "medium-rectangle")
    path = write_sample_campaign(tmp_path, text, audience_csv(1))
    (path.parent / "audience.json").write_text(json.dumps(rows))
    path.write_text(path.read_text().replace("audience: audience.csv", "audience: audience.json"))
    with pytest.raises(SpecError, match=r"audience row 31 \(segment 's30'\), en-US, body: .*'city'"):
        plan_campaign(load_spec(path), engine_registry())


def test_no_cyclic_collection_runs_while_the_jobs_are_built(tmp_path: Path) -> None:
    loaded, engines = _lumen(tmp_path, 300), engine_registry()
    starts: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            starts.append(info["generation"])

    gc.collect()  # counts from zero: a pass the earlier tests left due would be an older generation's
    gc.callbacks.append(seen)
    try:
        plan = plan_campaign(loaded, engines)
    finally:
        gc.callbacks.remove(seen)
    assert len(plan.jobs) == 300 * 4 * 8 + 1
    # at most the one young-generation pass when the collector resumes (there were ~140, each
    # over the jobs built so far, and the older generations' passes grew with the plan)
    assert starts in ([], [0])
    assert gc.isenabled()
