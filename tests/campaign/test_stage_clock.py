"""The runner's stage clock and the workers' fingerprints from the compositor's own pixels."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from mintloom.campaign.execute import Generated, generate_job
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.run import STAGES, CampaignRunner, StageClock
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import RendersPixels, engine_registry
from mintloom.engines.image import ImageCompositor
from mintloom.provenance.fingerprint import (
    Fingerprint,
    fingerprint_image,
    registration_fingerprints,
    registration_fingerprints_image,
)
from mintloom.studio import Studio

from .conftest import write_campaign


def test_workers_fingerprint_the_pixels_exactly_as_the_decoded_file(tmp_path: Path) -> None:
    """Every format (square, wide, tall): the hashes from the engine's pixels are the hashes of its
    PNG decoded again, which is what verify and existing catalogs compare against."""
    plan = plan_campaign(load_spec(write_campaign(tmp_path)), engine_registry())
    images = [j for j in plan.jobs if j.kind == "image"]
    assert {j.format for j in images} >= {"square", "leaderboard"}
    for job in images:
        gen = generate_job(job)
        assert gen.error is None and gen.artifact is not None
        expected = registration_fingerprints(gen.artifact.data)
        assert gen.fingerprints == tuple((f.phash, f.dhash) for f in expected), job.format
        stages = dict(gen.seconds)
        assert set(stages) == {"generate", "encode", "qa", "fingerprint", "thumbnail"} and all(
            v > 0 for v in stages.values()
        )
        cpu = dict(gen.cpu_seconds)  # the same stages on the worker thread's CPU clock
        assert set(cpu) == set(stages) and all(v > 0 for v in cpu.values())


def test_copy_jobs_are_clocked_without_a_fingerprint_stage(tmp_path: Path) -> None:
    plan = plan_campaign(load_spec(write_campaign(tmp_path)), engine_registry())
    copy = next(j for j in plan.jobs if j.kind == "copy")
    gen: Generated = generate_job(copy)
    assert gen.fingerprints == () and [s for s, _ in gen.seconds] == ["generate"]


def test_compositor_hands_over_the_pixels_it_encoded(tmp_path: Path) -> None:
    engine = ImageCompositor()
    assert isinstance(engine, RendersPixels)
    plan = plan_campaign(load_spec(write_campaign(tmp_path)), engine_registry())
    job = next(j for j in plan.jobs if j.kind == "image" and j.format == "square")
    rendered = engine.render_pixels(job.request)
    with Image.open(io.BytesIO(rendered.artifact.data)) as decoded:
        assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(rendered.pixels))
    assert rendered.artifact == engine.generate(job.request)  # generate is render_pixels' artifact
    assert registration_fingerprints_image(rendered.pixels) == registration_fingerprints(
        rendered.artifact.data
    )


@pytest.mark.parametrize("size", [(270, 270), (257, 243), (80, 300), (300, 37), (9, 8), (3, 40)])
def test_hashes_are_imagehash_bit_for_bit(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    for _ in range(5):
        grey = Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), "L")
        ph, dh = imagehash.phash(grey, hash_size=8), imagehash.dhash(grey, hash_size=8)
        assert fingerprint_image(grey) == Fingerprint(phash=int(str(ph), 16), dhash=int(str(dh), 16))


def test_run_clocks_every_stage_per_kind(studio: Studio, tmp_path: Path) -> None:
    runner = CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c")), batch_size=5)
    summary = runner.run()
    image = summary.clock.seconds["image"]
    assert set(image) == set(STAGES) and all(v > 0 for v in image.values())
    copy = summary.clock.seconds["copy"]
    assert "fingerprint" not in copy and {"generate", "sign", "cid", "log", "catalog", "export"} <= set(copy)
    clocked = sum(sum(per.values()) for per in summary.clock.seconds.values())
    assert clocked <= summary.seconds  # the clock only splits the run's own time
    cpu = summary.clock.cpu["image"]  # every stage on the CPU clock too (what a loaded machine can't blur)
    assert set(cpu) == set(STAGES) and all(cpu[s] > 0 for s in ("generate", "encode", "fingerprint", "sign"))


def test_stage_clock_adds_up() -> None:
    clock = StageClock()
    clock.add("image", "sign", 0.25)
    clock.add("image", "sign", 0.5)
    with clock.timed("copy", "export"):
        pass
    assert clock.get("image", "sign") == 0.75 and clock.get("image", "cid") == 0.0
    assert clock.get("copy", "export") >= 0.0 and set(clock.seconds) == {"image", "copy"}
    assert clock.get_cpu("image", "sign") == 0.0 and set(clock.cpu) == {"image", "copy"}
    clock.add("image", "sign", 0.25, 0.125)
    assert clock.get("image", "sign") == 1.0 and clock.get_cpu("image", "sign") == 0.125
