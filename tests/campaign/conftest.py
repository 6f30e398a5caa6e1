"""A small campaign (2 segments × 2 locales × 3 formats, copy and a sound logo) in a temp folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mintloom.campaign.plan import Job, plan_campaign
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import LoadedSpec
from mintloom.engines.base import Engine, GenerationRequest

SPEC = sample_spec()
AUDIENCE = sample_audience()


def write_campaign(folder: Path, spec: str = SPEC, audience: str = AUDIENCE) -> Path:
    return write_sample_campaign(folder, spec, audience)


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "campaign")


@pytest.fixture(scope="module")
def conformance_jobs(tmp_path_factory: pytest.TempPathFactory) -> list[Job]:
    """Eight small jobs of every kind, for the executor conformance suite."""
    from mintloom.campaign.spec import load_spec
    from mintloom.engines.base import engine_registry

    plan = plan_campaign(load_spec(write_campaign(tmp_path_factory.mktemp("c"))), engine_registry())
    small = [j for j in plan.jobs if j.format in {"leaderboard", "medium-rectangle"} or j.kind != "image"]
    return small[:8]


def reference_key(
    engine: Engine,
    request: GenerationRequest,
    parent: str | None,
    template_hash: str | None,
    loaded: LoadedSpec,
) -> str:
    """A job key as the plain planner computed it: the sha-256 of ``json.dumps`` of the whole job
    document (the planner now lays shared parts out once; its keys must not change)."""
    fmt = None if request.format is None else request.format.model_dump(exclude_defaults=True)
    brand = request.brand.model_dump(exclude={"logo_png"})
    brand["logo"] = hashlib.sha256(request.brand.logo_png).hexdigest() if request.brand.logo_png else None
    doc = {
        "engine": engine.name,
        "version": engine.version,
        "request": {
            "kind": request.kind,
            "seed": request.seed,
            "locale": request.locale,
            "format": fmt,
            **request.params.key_fields(),
        },
        "brand": brand,
        "parent": parent,
        "lineage": loaded.spec.lineage.model_dump(),
        "template": template_hash,
        "campaign": loaded.spec.campaign,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
