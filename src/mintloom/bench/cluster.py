"""Ray's overhead on one machine: the Ray executor with 2 workers (a local Ray of 2 CPUs) against
the local process pool with 2 workers, on the same demo-mix image jobs through the runner's own
worker function (:func:`generate_job`: render, encode, registration fingerprints, results shipped
back to the parent). Each executor is warmed first (worker start-up, imports, fonts), then they run
paired rounds (pool then Ray over a round's jobs, Ray then pool over the next round's, ...): the
machine is shared, so each round's two passes, close in time, share the neighbours' load, and the
figure is the median of the rounds' ratios. Start-up (a local Ray's processes, the pool's forks) is
paid once per run and counted on neither side; the note gives both. Ray's workers run with
``OMP_NUM_THREADS=1``, the pool's inherit the environment: the jobs are single-threaded (their
process and thread CPU agree), so that does not move the figure.
"""

from __future__ import annotations

import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.bench.pipeline import Rounds, image_jobs, load, paired_rounds, warm
from mintloom.campaign.execute import Executor, ProcessExecutor
from mintloom.campaign.plan import Job
from mintloom.campaign.ray_executor import RayExecutor
from mintloom.config import RaySettings

WORKERS = 2
ROUNDS = 5
PER_ROUND = 84
"""Images in each executor's pass of a round (3 of the demo mix's 8 segments): 5 rounds run each
side over 420 images, about the 2 × 224 the figure ran before it was taken in rounds."""


def measure(
    work: Path,
    segments: int | None = None,
    limit: int | None = None,
    rounds: int = ROUNDS,
    per_round: int = PER_ROUND,
) -> list[Figure]:
    jobs = image_jobs(work / "cluster", segments)[:limit]
    local: Executor = ProcessExecutor(WORKERS)
    ray: Executor = RayExecutor(WORKERS, RaySettings(num_cpus=WORKERS, object_store_mb=256))
    try:
        start = {"local": _start_up(local, jobs), "ray": _start_up(ray, jobs)}
        measured = paired_rounds(local, ray, jobs, rounds, per_round)
    finally:
        local.close()
        ray.close()
    return [_figure(measured, jobs, start)]


def _start_up(executor: Executor, jobs: list[Job]) -> float:
    """Seconds of the first, warming jobs: the executor's start-up, reported, not counted."""
    t0 = time.perf_counter()
    warm(executor, jobs)
    return time.perf_counter() - t0


def _figure(rounds: Rounds, jobs: list[Job], start: dict[str, float]) -> Figure:
    return Figure(
        "ray_vs_local_pool_2_workers",
        rounds.median,
        "x",
        0.8,
        ">=",
        f"image jobs per second, Ray executor (B: local Ray, {WORKERS} CPUs) / local process pool "
        f"(A: {WORKERS} workers), generate_job on the same {len(jobs)} demo-mix images, warmed, "
        f"{rounds.spread()}; all rounds: Ray {rounds.b.per_s:.2f}/s, pool {rounds.a.per_s:.2f}/s; "
        f"start-up not counted (Ray {start['ray']:.1f} s, pool {start['local']:.1f} s, once per run); "
        "Ray's batch sizing carries over from the warm-up, as it does between a run's phases; "
        f"{load()}",
    )


def run(work: Path) -> list[Figure]:
    """The whole demo mix (224 images), in rounds of 84: a campaign's worth of images per pass."""
    return measure(work)
