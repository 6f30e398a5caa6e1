"""Ray's overhead on one machine: the Ray executor with 2 workers (a local Ray of 2 CPUs) against
the local process pool with 2 workers, on the same demo-mix image jobs through the runner's own
worker function (:func:`generate_job`: render, encode, registration fingerprints, results shipped
back to the parent). Each executor is warmed first (worker start-up, imports, fonts), then the two
alternate passes and the best pass of each counts: the machine is shared, so the neighbours' load
moves both sides alike. Start-up (a local Ray's processes, the pool's forks) is paid once per run
and counted on neither side; the note gives both. Ray's workers run with ``OMP_NUM_THREADS=1``, the
pool's inherit the environment: the jobs are single-threaded (their process and thread CPU agree),
so that does not move the figure.
"""

from __future__ import annotations

import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.bench.pipeline import Rate, executor_rate, image_jobs, load, warm
from mintloom.campaign.execute import Executor, ProcessExecutor
from mintloom.campaign.plan import Job
from mintloom.campaign.ray_executor import RayExecutor
from mintloom.config import RaySettings

WORKERS = 2
PASSES = 2


def measure(
    work: Path, segments: int | None = None, limit: int | None = None, passes: int = PASSES
) -> list[Figure]:
    jobs = image_jobs(work / "cluster", segments)[:limit]
    local: Executor = ProcessExecutor(WORKERS)
    ray: Executor = RayExecutor(WORKERS, RaySettings(num_cpus=WORKERS, object_store_mb=256))
    try:
        start = {"local": _start_up(local, jobs), "ray": _start_up(ray, jobs)}
        rates = {"local": list[Rate](), "ray": list[Rate]()}
        for _ in range(passes):
            rates["local"].append(executor_rate(local, jobs))
            rates["ray"].append(executor_rate(ray, jobs))
    finally:
        local.close()
        ray.close()
    best = {name: max(r.per_s for r in runs) for name, runs in rates.items()}
    return [_figure(best["ray"], best["local"], jobs, passes, start)]


def _start_up(executor: Executor, jobs: list[Job]) -> float:
    """Seconds of the first, warming jobs: the executor's start-up, reported, not counted."""
    t0 = time.perf_counter()
    warm(executor, jobs)
    return time.perf_counter() - t0


def _figure(ray: float, local: float, jobs: list[Job], passes: int, start: dict[str, float]) -> Figure:
    return Figure(
        "ray_vs_local_pool_2_workers",
        ray / local,
        "x",
        0.8,
        ">=",
        f"image jobs per second, Ray executor (local Ray, {WORKERS} CPUs) / local process pool "
        f"({WORKERS} workers), generate_job on the same {len(jobs)} demo-mix images, best of "
        f"{passes} alternating warmed passes: Ray {ray:.2f}/s, pool {local:.2f}/s; start-up not counted "
        f"(Ray {start['ray']:.1f} s, pool {start['local']:.1f} s, once per run); {load()}",
    )


def run(work: Path) -> list[Figure]:
    """The whole demo mix (224 images): a campaign, not a sample whose first and last task dominate."""
    return measure(work)
