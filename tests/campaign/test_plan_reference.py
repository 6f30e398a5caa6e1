"""The fast planner plans what the plain one did (issue 14: planning 100k rows had to get faster
without changing a single job). ``reference_plan`` below is the planner written the slow, direct
way: every job's request built whole and its key the sha-256 of ``json.dumps`` of its document.
Hypothesis audiences (CSV and JSON, duplicated rows, quotes, braces, backslashes, non-ASCII,
numbers, a missing optional column) must give the same jobs, in the same order."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mintloom.campaign.plan import Job, derive_seed, plan_campaign
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import TEXT_FIELDS, LoadedSpec, Segment, load_spec
from mintloom.engines.base import Engine, GenerationRequest, engine_registry
from mintloom.engines.copy import template_variables
from mintloom.engines.params import AudioParams, CopyParams, CopyTemplate, ImageParams
from mintloom.errors import UnsafeTextError
from tests.campaign.conftest import reference_key

SPEC = """campaign: ref
seed: 11
brand:
  name: Lumen
  palette: ["#1d3557", "#e63946", "#f1faee"]
  logo: logo.png
  messages:
    en-US:
      headline: "{{ name }}: {{ offer }}% {x}"
      body: "{% if city is defined %}in {{ city }}{% endif %}"
      cta: "Go"
    de-DE:
      headline: "{{ offer }} % für {{ name }}"
      body: "Ab {{ offer }}"
      cta: "{{ name }} }{"
audience: audience.csv
locales: [en-US, de-DE]
formats: [medium-rectangle, leaderboard, {name: sq, width: 64, height: 64, encoding: jpeg}]
master: medium-rectangle
copy:
  templates:
    note: "{{ name }} {{ offer }}"
audio:
  enabled: true
"""


def reference_plan(loaded: LoadedSpec, engines: dict[str, Engine]) -> list[dict[str, Any]]:
    """Every job of ``loaded`` as the plain planner made it (no review rounds, no hero)."""
    spec, brand, out = loaded.spec, loaded.brand_style(), []
    formats = spec.resolved_formats()
    ordered = [f for f in formats if f.name == spec.master] + [f for f in formats if f.name != spec.master]

    def add(
        engine: Engine, request: GenerationRequest, parent: str | None, template: str | None, **job: Any
    ) -> str:
        th = None if template is None else hashlib.sha256(template.encode()).hexdigest()
        key = reference_key(engine, request, parent, th, loaded)
        out.append(
            {
                "key": key,
                "engine": engine.name,
                "parent": parent,
                "request": request.model_dump(),
                "template_hash": th,
                **job,
            }
        )
        return key

    def images(seg: Segment, loc: str, seed: int, first: str | None) -> str:
        texts = {f: spec.brand.messages[loc][f] for f in TEXT_FIELDS}
        reads: set[str] = set()
        for f, source in texts.items():
            required, optional = template_variables(source, what=f)
            reads |= required | optional
        variables = {k: seg.variables[k] for k in sorted(reads) if k in seg.variables}
        params = ImageParams(**texts, variables=variables, campaign=spec.campaign)
        template = "\n".join(texts[f] for f in TEXT_FIELDS)
        master = ""
        for fmt in ordered:
            request = GenerationRequest(
                kind="image", seed=seed, locale=loc, brand=brand, format=fmt, params=params
            )
            action = "c2pa.resized" if master else "c2pa.translated" if first else "c2pa.created"
            title = f"{loc}/{seg.segment}/{fmt.name}"
            key = add(
                engines["compositor"],
                request,
                master or first,
                template,
                kind="image",
                segment=seg.segment,
                locale=loc,
                format=fmt.name,
                action=action,
                title=title,
            )
            master = master or key
        return master

    for seg in loaded.segments:
        first: str | None = None
        for loc in spec.locales:
            seed = derive_seed(spec.seed, spec.campaign, seg.segment, loc)
            master = images(seg, loc, seed, first)
            first = first or master
            for name, source in spec.copy_.templates.items():
                template = CopyTemplate(source=source, variables=dict(seg.variables), name=name)
                request = GenerationRequest(
                    kind="copy", seed=seed, locale=loc, brand=brand, params=CopyParams(template=template)
                )
                add(
                    engines["copy"],
                    request,
                    None,
                    source,
                    kind="copy",
                    segment=seg.segment,
                    locale=loc,
                    format=None,
                    action="c2pa.created",
                    title=f"{loc}/{seg.segment}/{name}",
                )
    seed = derive_seed(spec.seed, spec.campaign, "sound-logo")
    audio = AudioParams(format=spec.audio.format, seconds=spec.audio.seconds)
    request = GenerationRequest(kind="audio", seed=seed, locale=spec.locales[0], brand=brand, params=audio)
    add(
        engines["soundlogo"],
        request,
        None,
        None,
        kind="audio",
        segment=None,
        locale=None,
        format=None,
        action="c2pa.created",
        title="sound-logo",
    )
    return out


def _as_reference(job: Job) -> dict[str, Any]:
    return {
        "key": job.key,
        "engine": job.engine,
        "parent": job.parent,
        "request": job.request.model_dump(),
        "template_hash": job.template_hash,
        "kind": job.kind,
        "segment": job.segment,
        "locale": job.locale,
        "format": job.format,
        "action": job.action,
        "title": job.title,
    }


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\t\n"), max_size=12
) | st.sampled_from(["{0}", '"{x}"', "}{", "\\", "{{ name }}", "ü€😀", " pad "])
_CELL = _TEXT | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False, width=32)
_ROW = st.fixed_dictionaries({"name": _TEXT, "offer": _CELL}, optional={"city": _TEXT})
_AUDIENCE = st.lists(_ROW, min_size=1, max_size=5)


def _rows(values: list[dict[str, Any]], duplicate: bool) -> list[dict[str, Any]]:
    """Named rows; with ``duplicate``, every second one repeats its predecessor's values."""
    rows = []
    for i, v in enumerate(values):
        same = values[i - 1] if duplicate and i % 2 and i else v
        rows.append({"segment": f"s{i}", **same})
    return rows


def _check(tmp_path: Path, audience: str, name: str) -> None:
    spec = SPEC if name.endswith(".csv") else SPEC.replace("audience.csv", name)
    path = write_sample_campaign(tmp_path, spec, "segment,name\nx,y\n")
    (tmp_path / name).write_text(audience, encoding="utf-8")
    loaded, engines = load_spec(path), engine_registry()
    plan = plan_campaign(loaded, engines)
    assert [_as_reference(j) for j in plan.jobs] == reference_plan(loaded, engines)
    translated = [j for j in plan.jobs if j.action == "c2pa.translated"]
    assert translated and all(j.source_locale == "en-US" for j in translated)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_AUDIENCE, duplicate=st.booleans())
def test_csv_audiences_plan_as_the_plain_planner_did(
    tmp_path: Path, values: list[dict[str, Any]], duplicate: bool
) -> None:
    rows = [{**r, "city": r.get("city", "")} for r in _rows(values, duplicate)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["segment", "name", "offer", "city"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: str(v).replace("\r", "") for k, v in r.items()} for r in rows)
    _check(tmp_path, buf.getvalue(), "audience.csv")
    # the rows are read as the cells' text, stripped, as before (one search of the whole text)
    segments = load_spec(tmp_path / "campaign.yaml").segments
    assert [s.variables for s in segments] == [
        {k: str(v).replace("\r", "").strip() for k, v in r.items()} for r in rows
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_AUDIENCE, duplicate=st.booleans())
def test_json_audiences_plan_as_the_plain_planner_did(
    tmp_path: Path, values: list[dict[str, Any]], duplicate: bool
) -> None:
    # numbers, and rows without the optional column: the variables' slow path
    _check(tmp_path, json.dumps(_rows(values, duplicate)), "audience.json")


def test_a_control_character_in_a_csv_cell_is_still_refused_by_row_and_field(tmp_path: Path) -> None:
    # the whole text is searched once; a hit falls back to the search per row that names the field
    audience = "segment,name,offer,city\ns0,Ann,5,Rome\ns1,B\x1bob,6,Oslo\n"
    path = write_sample_campaign(tmp_path, SPEC, audience)
    with pytest.raises(UnsafeTextError, match=r"audience\.csv: row 2: field 'name' contains a control"):
        load_spec(path)
