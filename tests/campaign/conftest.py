"""A small campaign (2 segments × 2 locales × 3 formats, copy and a sound logo) in a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.campaign.plan import Job, plan_campaign
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign

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
