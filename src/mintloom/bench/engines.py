"""Engine figures: 1080x1080 image assets per second per worker, and 2-worker scaling."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
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


def _throughput(workers: int, per_worker: int) -> float:
    """Assets/s with ``workers`` processes, each rendering ``per_worker`` assets (pool warmed first)."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_render_batch, [[10_000 + w] for w in range(workers)]))  # import + font warm-up
        batches = [list(range(w * per_worker, (w + 1) * per_worker)) for w in range(workers)]
        t0 = time.perf_counter()
        list(pool.map(_render_batch, batches))
        elapsed = time.perf_counter() - t0
    return workers * per_worker / elapsed


def run(work: Path) -> list[Figure]:
    del work  # nothing persisted
    _render_batch([0])  # warm fonts and caches in this process
    n = 20
    t0 = time.perf_counter()
    _render_batch(list(range(1, n + 1)))
    single = n / (time.perf_counter() - t0)
    one = _throughput(1, 16)
    two = _throughput(2, 16)
    return [
        Figure("image_1080_assets_per_s_per_worker", single, "assets/s", note="single process, PNG level 6"),
        Figure(
            "image_2_worker_scaling",
            two / one,
            "x",
            1.8,
            ">=",
            f"ProcessPoolExecutor: 1 worker {one:.2f}/s, 2 workers {two:.2f}/s",
        ),
    ]
