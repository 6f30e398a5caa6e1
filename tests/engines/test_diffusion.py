"""The diffusers engine against a tiny random-weight pipeline built by the session (no download),
loaded through DiffusionPipeline.from_pretrained like a real model."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mintloom.engines import diffusion
from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.diffusion import DiffusersEngine, pipeline_hash
from mintloom.engines.params import CopyTemplate, DiffusionParams
from mintloom.errors import EngineError, ModelLoadError, SpecError

pytest.importorskip("diffusers")


def _request(
    brand: BrandStyle,
    folder: Path | None,
    seed: int,
    prompt: str = "a photo of {{ city }} coffee",
    **kw: object,
) -> GenerationRequest:
    params = DiffusionParams(
        prompt=CopyTemplate(source=prompt, variables={"city": "Lisbon"}, name="hero"),
        model_path=None if folder is None else str(folder),
        steps=1,
        width=64,
        height=64,
        **kw,  # type: ignore[arg-type]
    )
    return GenerationRequest(kind="image", seed=seed, locale="en-US", brand=brand, params=params)


def test_same_seed_same_pixels_other_seed_other_pixels(tiny_pipeline: Path, brand: BrandStyle) -> None:
    engine = DiffusersEngine()
    first = engine.generate(_request(brand, tiny_pipeline, 7))
    again = engine.generate(_request(brand, tiny_pipeline, 7))
    other = engine.generate(_request(brand, tiny_pipeline, 8))
    assert first.data == again.data and first.data != other.data
    img = Image.open(io.BytesIO(first.data))
    assert img.format == "PNG" and img.size == (64, 64)
    assert first.digital_source_type == "trainedAlgorithmicMedia"
    assert (
        first.model_hash == pipeline_hash(tiny_pipeline)
        and first.model_id == f"local-{first.model_hash[:16]}"
    )
    assert first.parameters.steps == 1 and first.parameters.width == 64


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_a_batch_is_reproducible_and_matches_each_image_made_alone(
    tiny_pipeline: Path, brand: BrandStyle
) -> None:
    engine = DiffusersEngine()
    requests = [_request(brand, tiny_pipeline, s) for s in (3, 4, 5)]
    batch = engine.generate_batch(requests)
    assert [a.data for a in engine.generate_batch(requests)] == [a.data for a in batch]
    assert len({a.data for a in batch}) == 3
    for art, req in zip(batch, requests, strict=True):
        alone = engine.generate(req)
        # each keeps its own seeded noise; batched matmuls may round one level differently
        assert np.abs(_pixels(art.data) - _pixels(alone.data)).max() <= 1


def test_the_prompt_reaches_the_model_but_not_the_record(tiny_pipeline: Path, brand: BrandStyle) -> None:
    art = DiffusersEngine().generate(_request(brand, tiny_pipeline, 1, model_id="org/hero-model"))
    assert art.prompt == "a photo of Lisbon coffee"  # for the runner's salted commitment
    dumped = art.model_dump_json(exclude={"data"})
    assert "Lisbon" not in dumped and str(tiny_pipeline) not in dumped and "org/hero-model" in dumped


def test_weights_are_hashed_once_per_folder_state(
    tiny_pipeline: Path, brand: BrandStyle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = shutil.copytree(tiny_pipeline, tmp_path / "copy")
    opened: list[str] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        if self.suffix == ".safetensors" and "rb" in args:
            opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", counting_open)
    engine = DiffusersEngine()
    arts = engine.generate_batch([_request(brand, folder, s) for s in (1, 2)])
    arts.append(engine.generate(_request(brand, folder, 3)))
    assert len(opened) == 3  # unet, vae, text encoder: hashed once for three jobs
    assert len({a.model_hash for a in arts}) == 1
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")  # the weights change: hashed again
    assert pipeline_hash(folder) != arts[0].model_hash


def test_a_missing_or_foreign_folder_is_refused_by_name(tmp_path: Path, brand: BrandStyle) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        DiffusersEngine().generate(_request(brand, tmp_path / "nope", 1))
    (tmp_path / "weights.safetensors").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"no model_index\.json"):
        DiffusersEngine().generate(_request(brand, tmp_path, 1))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "NoSuchPipeline"}')
    with pytest.raises(ModelLoadError, match="cannot load"):
        DiffusersEngine().generate(_request(brand, broken, 1))
    with pytest.raises(SpecError, match="model_path"):
        DiffusersEngine().generate(_request(brand, None, 1))


def test_an_empty_prompt_and_a_foreign_request_are_refused(tiny_pipeline: Path, brand: BrandStyle) -> None:
    with pytest.raises(SpecError, match="rendered empty"):
        DiffusersEngine().generate(_request(brand, tiny_pipeline, 1, prompt="{{ '' }}  "))
    copy = GenerationRequest(
        kind="copy", seed=1, locale="en-US", brand=brand, params=_request(brand, None, 1).params
    )
    with pytest.raises(EngineError, match="makes image"):
        DiffusersEngine().generate(copy)


def test_the_device_override_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(diffusion.ENV_DEVICE, "tpu")
    with pytest.raises(EngineError, match="not cpu or cuda"):
        diffusion._device()
    monkeypatch.setenv(diffusion.ENV_DEVICE, "cpu")
    assert diffusion._device()[0] == "cpu"


def test_a_bad_thread_count_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv(diffusion.ENV_THREADS, "0")
    with pytest.raises(EngineError, match="not a positive number"):
        diffusion._set_threads()
    monkeypatch.setenv(diffusion.ENV_THREADS, str(before))
    diffusion._set_threads()
    assert torch.get_num_threads() == before
