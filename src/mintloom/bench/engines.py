"""Engine figures: 1080x1080 image assets per second in one process (2-worker scaling is measured
through the runner's executor: :mod:`mintloom.bench.pipeline`)."""

from __future__ import annotations

import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.engines.base import FORMATS, BrandStyle, GenerationRequest
from mintloom.engines.image import ImageCompositor
from mintloom.engines.params import ImageParams

_TEXTS = ImageParams(
    headline="Summer sale: everything you love, half the price",
    body="Free delivery on orders over $50. Ends Sunday.",
    cta="Shop now",
)
_BRAND = BrandStyle(palette=("#0b3d91", "#1e88e5", "#ffb300", "#fafafa"))


def _request(seed: int) -> GenerationRequest:
    return GenerationRequest(
        kind="image", seed=seed, locale="en-US", brand=_BRAND, format=FORMATS["square"], params=_TEXTS
    )


def _render_batch(seeds: list[int]) -> int:
    engine = ImageCompositor()
    total = 0
    for seed in seeds:
        total += len(engine.generate(_request(seed)).data)
    return total


def run(work: Path) -> list[Figure]:
    del work  # nothing persisted
    _render_batch([0])  # warm fonts and caches in this process
    n = 20
    t0 = time.perf_counter()
    _render_batch(list(range(1, n + 1)))
    single = n / (time.perf_counter() - t0)
    return [
        Figure("image_1080_assets_per_s_per_worker", single, "assets/s", note="single process, PNG level 6"),
    ]
