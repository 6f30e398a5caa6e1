"""Planning builds typed requests and renders nothing; engines render their templates once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mintloom.campaign.execute import generate_job
from mintloom.campaign.plan import Plan, plan_campaign
from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import CopyParams, ImageParams, OpenAICompatParams
from mintloom.errors import SpecError
from tests.engines.chat_stub import ChatHandler, serve_chat

from .conftest import write_campaign

LOOP = "{% for i in range(10**9) %}{% for j in range(10**9) %}x{% endfor %}{% endfor %}"


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every template the copy engine renders (the real renderer, counted)."""
    seen: list[str] = []
    real = CopyEngine.render

    def counting(self: CopyEngine, template: str, *args: Any, **kwargs: Any) -> str:
        seen.append(template)
        return real(self, template, *args, **kwargs)

    monkeypatch.setattr(CopyEngine, "render", counting)
    yield seen


@pytest.fixture
def server() -> Iterator[str]:
    with serve_chat() as url:  # the real local chat-completions stub
        yield url


def _plan(tmp_path: Path, spec: str | None = None, audience: str | None = None) -> Plan:
    path = write_campaign(tmp_path / "c", spec or sample_spec(), audience or sample_audience())
    return plan_campaign(load_spec(path), engine_registry())


def test_planning_renders_no_template(tmp_path: Path, renders: list[str]) -> None:
    # a brand message and a copy template that would run for ages if rendered
    spec = sample_spec().replace("Claim", LOOP).replace('note: "{{ name }}', f'note: "{LOOP} {{{{ name }}}}')
    start = time.perf_counter()
    plan = _plan(tmp_path, spec)
    assert time.perf_counter() - start < 5
    assert renders == []
    assert plan.count("image") == 12 and plan.count("copy") == 4
    image = next(j for j in plan.jobs if j.kind == "image")
    assert isinstance(image.request.params, ImageParams) and image.request.params.cta == LOOP
    # only the variables the messages read, unrendered
    assert set(image.request.params.variables) == {"name", "offer", "price", "currency", "city"}


def test_mintloom_plan_does_not_generate(tmp_path: Path) -> None:
    spec = sample_spec().replace("Claim", LOOP)
    path = write_campaign(tmp_path / "c", spec)
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "plan", str(path)], capture_output=True,
                       text=True, env=env, timeout=120, check=False, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "image" in r.stdout and "12" in r.stdout


def test_a_template_that_fails_fails_when_its_job_generates(tmp_path: Path) -> None:
    plan = _plan(tmp_path, sample_spec().replace("Claim", LOOP))
    done = generate_job(next(j for j in plan.jobs if j.kind == "image"))
    assert done.artifact is None and done.error_type == "CopyTemplateError"
    assert "brand message 'cta' exceeds the sandbox's limits" in (done.error or "")


def test_a_missing_variable_is_still_refused_at_plan_time(tmp_path: Path, renders: list[str]) -> None:
    with pytest.raises(
        SpecError, match=r"audience row 1 \(segment 'students'\), en-US, headline: .*'nickname'"
    ):
        _plan(tmp_path, sample_spec().replace("{{ name }}, {{ offer }}%", "{{ nickname }}, {{ offer }}%"))
    # a guarded one is optional
    guarded = "{% if nickname is defined %}{{ nickname }}{% else %}{{ name }}{% endif %}, {{ offer }}%"
    plan = _plan(tmp_path / "g", sample_spec().replace("{{ name }}, {{ offer }}%", guarded))
    assert plan.count("image") == 12 and renders == []
    with pytest.raises(SpecError, match=r"headline: .*not a valid template"):
        _plan(tmp_path / "s", sample_spec().replace("{{ name }}, {{ offer }}%", "{{ name "))


def test_openai_copy_job_renders_its_template_once(tmp_path: Path, server: str, renders: list[str]) -> None:
    pytest.importorskip("httpx")
    model = f"copy:\n  engine: openai-compat\n  model: {{base_url: '{server}', model: tiny}}\n  templates:\n"
    spec = sample_spec(formats=("square",), audio=False).replace("copy:\n  templates:\n", model)
    plan = _plan(tmp_path, spec)
    assert renders == []
    job = next(j for j in plan.jobs if j.kind == "copy")
    assert isinstance(job.request.params, OpenAICompatParams) and job.request.params.model == "tiny"
    done = generate_job(job)
    assert done.artifact is not None, done.error
    note = "{{ name }}: {{ offer }}% until {{ deadline | date }}"
    assert renders == [note]  # once per job, by the engine
    prompt = ChatHandler.received[-1]["body"]["messages"][-1]["content"]  # type: ignore[index]
    assert prompt == done.artifact.prompt and prompt.startswith("Alex: 15% until")


def test_copy_model_settings_are_the_engine_s_typed_names(tmp_path: Path) -> None:
    bad = "copy:\n  engine: openai-compat\n  model: {model: m, max_token: 9}\n  templates:\n"
    with pytest.raises(SpecError, match="max_token") as err:
        _plan(tmp_path, sample_spec().replace("copy:\n  templates:\n", bad))
    assert "max_tokens" in (err.value.hint or "")
    with pytest.raises(SpecError, match=r"copy\.engine 'nope' is not an installed engine"):
        _plan(tmp_path / "n", sample_spec().replace("copy:\n", "copy:\n  engine: nope\n"))
    with pytest.raises(SpecError, match=r"copy\.model does not fit the copy engine"):
        _plan(tmp_path / "c", sample_spec().replace("copy:\n", "copy:\n  model: {model: m}\n"))


def test_copy_job_keys_are_the_ones_earlier_versions_computed(tmp_path: Path) -> None:
    """Typed parameters did not change copy keys: a workspace does not regenerate its texts.
    (Image keys did change, once: they hashed text rendered at plan time.)"""
    keys = {j.title: j.key for j in _plan(tmp_path).jobs if j.kind == "copy"}
    assert keys == {
        "ar-EG/runners/note": "8742cc8656e8d46058745c987adb14d2d434e564c023105365e79709ef6de671",
        "ar-EG/students/note": "8e59616737f5668ae6f7b9bdac7a6ada2e8f062ebb8e4a1388d82a7fab6f4a73",
        "en-US/runners/note": "bec5fdfefd8f7ae623e0d0b9c1536bd82a3f73086e44f98aed2566741fcbf140",
        "en-US/students/note": "37c2b702b73a5daa0bbd708f3f88c3c1f17b67f887aaa050388858c8062cb254",
    }
    job = next(j for j in _plan(tmp_path / "again").jobs if j.kind == "copy")
    assert isinstance(job.request.params, CopyParams) and job.request.params.template.name == "note"


def test_image_keys_follow_what_the_messages_read(tmp_path: Path) -> None:
    base = {j.title: j.key for j in _plan(tmp_path / "a").jobs}
    # a column no message reads: image keys stay; a value a message reads: they change
    unread = {j.title: j.key for j in _plan(tmp_path / "b", audience=sample_audience().replace(
        "2026-12-31", "2026-12-30")).jobs}  # fmt: skip
    read = {
        j.title: j.key for j in _plan(tmp_path / "c", audience=sample_audience().replace("Alex", "Alix")).jobs
    }
    for title, key in base.items():
        if title.endswith(("square", "leaderboard", "medium-rectangle")):
            assert unread[title] == key
            assert (read[title] != key) == ("/students/" in title)
