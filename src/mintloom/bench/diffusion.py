"""Text-to-image figures: the tiny random-weight pipeline (built here, nothing downloaded) on the
CPU, 64×64, 2 steps, one image per call and a batch of 4. They measure the engine's overhead
(load, seeding, PNG encode, hashing once per run), not a real model: SD-Turbo or FLUX-schnell
at 512² and up needs a GPU (CUDA fp16) to make an ad's hero in well under a second."""

from __future__ import annotations

import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.params import CopyTemplate, DiffusionParams

_BRAND = BrandStyle(palette=("#0b3d91", "#fafafa"))
_NOTE = (
    "tiny random-weight pipeline, 64x64, 2 steps, CPU, 1 thread: engine overhead; a real model needs a GPU"
)


def _request(folder: Path, seed: int) -> GenerationRequest:
    params = DiffusionParams(
        prompt=CopyTemplate(source="a warm cafe at sunset"),
        model_path=str(folder),
        steps=2,
        width=64,
        height=64,
    )
    return GenerationRequest(kind="image", seed=seed, locale="en-US", brand=_BRAND, params=params)


def run(work: Path) -> list[Figure]:
    import torch

    from mintloom.engines.diffusion import DiffusersEngine
    from mintloom.engines.tiny_diffusion import build_tiny_pipeline

    torch.set_num_threads(1)  # one worker's share; oversubscribed threads dominate a tiny model
    folder = build_tiny_pipeline(work / "tiny-sd")
    engine = DiffusersEngine()
    engine.generate(_request(folder, 0))  # load the pipeline, hash the folder
    n = 8
    t0 = time.perf_counter()
    for seed in range(1, n + 1):
        engine.generate(_request(folder, seed))
    single = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for start in range(1, n + 1, 4):
        engine.generate_batch([_request(folder, s) for s in range(start, start + 4)])
    batched = n / (time.perf_counter() - t0)
    return [
        Figure("diffusion_tiny_images_per_s", single, "images/s", note=_NOTE),
        Figure("diffusion_tiny_images_per_s_batch4", batched, "images/s", note=_NOTE + "; batches of 4"),
    ]
