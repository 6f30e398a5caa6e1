"""One table of format presets, shared by campaign specs and engines: every name a spec accepts
renders at that preset's pixel size, and an unknown name is refused by name (specs and engines
used to keep two tables that disagreed: the spec's ``landscape``/``fullhd`` were the engine's
``link``/``landscape-hd``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import soundfile as sf
from PIL import Image

from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import FORMATS, BrandStyle, GenerationRequest, engine_registry, format_preset
from mintloom.engines.image import ImageCompositor
from mintloom.engines.params import ImageParams
from mintloom.errors import SpecError, UnknownFormatError
from tests.campaign.conftest import SPEC, write_campaign

EXAMPLE = Path(__file__).parents[2] / "examples" / "lumen" / "campaign.yaml"
BRAND = BrandStyle(palette=("#1d3557", "#e63946", "#f1faee"))


def _spec_with(tmp_path: Path, formats: str) -> Path:
    return write_campaign(tmp_path, SPEC.replace("formats: [square, leaderboard, medium-rectangle]", formats))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_spec_format_renders_at_its_preset_size(tmp_path: Path, name: str) -> None:
    listed = "square" if name == "square" else f"square, {name}"
    spec = load_spec(_spec_with(tmp_path, f"formats: [{listed}]")).spec
    (fmt,) = [f for f in spec.resolved_formats() if f.name == name]
    params = ImageParams(headline="Hello", body="World", cta="Go", campaign="formats")
    request = GenerationRequest(kind="image", seed=1, locale="en-US", brand=BRAND, format=fmt, params=params)
    png = Image.open(io.BytesIO(ImageCompositor().generate(request).data))
    assert png.size == (FORMATS[name].width, FORMATS[name].height) == (fmt.width, fmt.height)


def test_the_example_campaign_names_only_presets() -> None:
    """The shipped example uses ``landscape`` and ``fullhd``: the engines know them too."""
    spec = load_spec(EXAMPLE).spec
    named = [f for f in spec.formats if isinstance(f, str)]
    assert {"landscape", "fullhd"} <= set(named)
    assert [format_preset(n) for n in named] == [f for f in spec.resolved_formats() if f.name in named]


@pytest.mark.parametrize("name", ["link", "landscape-hd", "Landscape", "full-hd", "banner"])
def test_an_unknown_format_is_refused_by_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnknownFormatError, match=f"unknown format '{name}'"):
        format_preset(name)
    with pytest.raises(SpecError, match=f"unknown format '{name}'"):
        load_spec(_spec_with(tmp_path, f"formats: [square, {name}]"))


def test_the_plan_hands_engines_the_presets_and_the_audio_length(tmp_path: Path) -> None:
    """From spec to engine request: each image job carries its preset, the sound logo the spec's
    ``audio.seconds`` (every sound logo used to be 2.4 s)."""
    every = ", ".join(sorted(FORMATS))
    text = SPEC.replace("formats: [square, leaderboard, medium-rectangle]", f"formats: [{every}]")
    text = text.replace("audio:\n  enabled: true\n", "audio:\n  enabled: true\n  seconds: 3.5\n")
    plan = plan_campaign(load_spec(write_campaign(tmp_path, text)), engine_registry())
    images = [j for j in plan.jobs if j.kind == "image"]
    assert {j.format for j in images} == set(FORMATS)
    assert all(j.format is not None and j.request.format == FORMATS[j.format] for j in images)
    (audio,) = [j for j in plan.jobs if j.kind == "audio"]
    art = engine_registry()[audio.engine].generate(audio.request)
    assert sf.info(io.BytesIO(art.data)).duration == pytest.approx(3.5)
