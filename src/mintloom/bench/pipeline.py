"""Pipeline figures on the demo mix (the shipped ``lumen`` example: 7 formats × 4 locales per
segment, all but one image per segment signed with a ``parentOf`` ingredient), measured on what a
user runs: the campaign runner itself, clocked by its own stage timers (:class:`StageClock`).

- per-image time by stage (generate, encode, fingerprint, sign, CID, log, catalog, export);
- the provenance overhead: sign + fingerprint + CID + log leaves over generate + encode;
- 2-worker scaling of the runner's own executor (:func:`generate_job`: engine, registration
  fingerprints, pickling of the results back to the parent).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mintloom.bench import Figure
from mintloom.campaign.examples import write_example
from mintloom.campaign.execute import Executor, Generated, ProcessExecutor, generate_job, make_executor
from mintloom.campaign.plan import Job
from mintloom.campaign.run import STAGES, CampaignRunner, RunSummary
from mintloom.campaign.spec import load_spec
from mintloom.studio import Studio
from mintloom.workspace import Workspace

T = TypeVar("T")
PASSWORD = "mintloom-bench-password"
OVERHEAD = ("sign", "fingerprint", "cid", "log")
"""What provenance adds to an image (the numerator of ``provenance_overhead_ratio``)."""
GENERATION = ("generate", "encode")
IN_RUNNER = ("tag", "sign", "cid", "log", "catalog", "export")
"""The stages the runner's own process does per image, one at a time, while the workers render."""


@dataclass(frozen=True)
class Sizes:
    """How much of the demo mix each measurement runs (the tests use smaller ones)."""

    segments: int = 8
    """Audience rows of the breakdown run: 8 is the whole demo (224 images)."""
    scaling_segments: int = 2
    """Audience rows of the scaling runs (56 images per worker count)."""
    scaling_jobs: int | None = None
    """At most this many of those images (None: all)."""
    scaling_rounds: int = 8
    """Paired rounds of 1 and 2 workers: each half of the jobs runs twice in either order."""
    scaling_per_round: int = 28
    """Images in each executor's pass of a round (half of the 56: the rounds alternate halves)."""


def load() -> str:
    """The 1/5/15-minute load average, for the notes (the machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def _studio(work: Path) -> Studio:
    studio = Studio(Workspace.init(work), password=PASSWORD)
    studio.ensure_keys()
    return studio


def run_demo_mix(work: Path, segments: int) -> RunSummary:
    """The demo campaign (``segments`` audience rows) run once, in one process, from scratch."""
    spec = write_example("lumen", work / "campaign", segments=segments)
    studio = _studio(work / "ws")
    try:
        return CampaignRunner(studio.run_parts(), load_spec(spec), workers=1).run()
    finally:
        studio.close()


def breakdown(summary: RunSummary) -> list[Figure]:
    """Per-image milliseconds by stage, and the provenance overhead ratio, from a run's clock."""
    n = summary.generated.get("image", 0)
    if not n:
        raise RuntimeError("the demo mix made no images")
    ms = _per_image_ms(summary.clock.seconds, n)
    cpu = _per_image_ms(summary.clock.cpu, n)
    slowest = max(ms, key=lambda s: ms[s])
    where = f"per image, demo mix ({n} images, {summary.planned} assets), runner stage clock, {load()}"
    figures = [Figure(f"pipeline_image_ms_{stage}", ms[stage], "ms", note=where) for stage in STAGES]
    figures.append(
        Figure("pipeline_image_ms_total", sum(ms.values()), "ms", note=f"{where}; slowest stage: {slowest}")
    )
    generation = sum(ms[s] for s in GENERATION)
    what = (
        "sign (C2PA ES256 embed, parentOf ingredient on every variant) + fingerprint (11 "
        "registration views) + CID + log leaves over generate + encode, demo mix through the runner"
    )
    figures += [
        Figure(
            "provenance_overhead_ratio",
            sum(ms[s] for s in OVERHEAD) / generation,
            "(sign+fingerprint+CID+log) / (generate+encode)",
            0.10,
            "<=",
            f"{what}, wall clock of each stage; {where}",
        ),
        Figure(
            "provenance_overhead_ratio_cpu",
            overhead_ratio(cpu),
            "(sign+fingerprint+CID+log) / (generate+encode)",
            0.10,
            "<=",
            f"{what}, CPU seconds of each stage (the wall clock of a shared machine also counts waits "
            f"for a core); per image: {_stages_text(cpu)}",
        ),
        Figure(
            "soft_binding_overhead_ratio",
            ms["fingerprint"] / generation,
            "fingerprint / (generate+encode)",
            note="11 registration views per image, computed in the workers from the encoded pixels",
        ),
        Figure("c2pa_sign_ms_per_png", ms["sign"], "ms", note=where),
        Figure(
            "qa_overhead_ratio",
            ms["qa"] / generation,
            "qa / (generate+encode)",
            0.15,
            "<=",
            "brand QA gate per image: WCAG contrast behind every text block (glyph boxes sampled at "
            "full resolution, on a stride below half a stroke for large text), overflow, logo, "
            "dominant colours (96 px boxed-down copy) against the palette in CIEDE2000, measured "
            f"in the worker, plus the rules' verdict in the runner; {where}",
        ),
        parent_share(cpu),
        Figure(
            "tagging_ms_per_image",
            ms["tag"],
            "ms",
            note="tags (named colours, script, direction, format family …), per-locale alt text and "
            f"the IPTC/XMP packet embedded into the file before signing; {where}",
        ),
    ]
    return figures


def _per_image_ms(clock: dict[str, dict[str, float]], images: int) -> dict[str, float]:
    per_stage = clock.get("image", {})
    return {stage: 1000 * per_stage.get(stage, 0.0) / images for stage in STAGES}


def overhead_ratio(ms: dict[str, float]) -> float:
    """(sign + fingerprint + CID + log) / (generate + encode) of per-stage times."""
    generation = sum(ms[s] for s in GENERATION)
    if generation <= 0:
        raise RuntimeError("the clock recorded no generation time")
    return sum(ms[s] for s in OVERHEAD) / generation


def parent_share(cpu: dict[str, float]) -> Figure:
    """The share of an image's CPU that the runner's process spends on it (serial, one process):
    it overlaps the workers' rendering, so it caps the speed-up only at 1/share workers."""
    total = sum(cpu.values())
    if total <= 0:
        raise RuntimeError("the clock recorded no CPU time")
    share = sum(cpu[s] for s in IN_RUNNER) / total
    ceiling = f"at most {1 / share:.0f} workers" if share else "any number of workers"
    return Figure(
        "pipeline_runner_process_share_cpu",
        share,
        "of an image's CPU",
        note=f"{' + '.join(IN_RUNNER)} run in the runner's own process, overlapped with the workers "
        "(the QA verdict too, not counted: its stage clock mixes worker and runner); the rest runs in "
        f"the workers: {ceiling} before the runner's process is the bottleneck",
    )


def _stages_text(ms: dict[str, float]) -> str:
    return ", ".join(f"{stage} {ms[stage]:.1f} ms" for stage in STAGES)


def image_jobs(work: Path, segments: int | None) -> list[Job]:
    """The demo mix's image jobs, planned as the runner plans them."""
    spec = write_example("lumen", work, segments=segments)
    from mintloom.campaign.plan import plan_campaign
    from mintloom.engines.base import engine_registry

    return [j for j in plan_campaign(load_spec(spec), engine_registry()).jobs if j.kind == "image"]


@dataclass(frozen=True)
class Rate:
    """One executor's passes over the jobs: wall-clock rate and the CPU seconds it took."""

    per_s: float
    worker_cpu: float
    """CPU seconds inside ``generate_job`` summed over the workers."""
    parent_cpu: float
    """CPU seconds of the calling process (submitting, unpickling results)."""

    def cpu_bound_wall(self, workers: int) -> float:
        """Wall time on ``workers`` idle cores: the workers' share, or the parent if it is slower."""
        return max(self.worker_cpu / workers, self.parent_cpu)


@dataclass(frozen=True)
class Pass:
    """One pass of an executor over some jobs."""

    jobs: int
    wall: float
    worker_cpu: float
    parent_cpu: float


def combined(passes: list[Pass]) -> Rate:
    """The rate of several passes taken together (total jobs over total wall time)."""
    wall = sum(p.wall for p in passes)
    if wall <= 0:
        raise RuntimeError("no executor pass took any time")
    return Rate(
        sum(p.jobs for p in passes) / wall,
        sum(p.worker_cpu for p in passes),
        sum(p.parent_cpu for p in passes),
    )


def timed_job(job: Job) -> tuple[Generated, float]:
    """:func:`generate_job` and the CPU seconds its thread took in its worker (picklable, top level)."""
    t0 = time.thread_time()
    gen = generate_job(job)
    return gen, time.thread_time() - t0


def warm(executor: Executor, jobs: list[Job]) -> None:
    """Worker start-up, imports, fonts: run a few jobs first, unmeasured."""
    for gen, _cpu in executor.map_unordered(timed_job, jobs[: executor.workers * 2]):
        assert gen.error is None, gen.error


def executor_pass(executor: Executor, jobs: list[Job]) -> Pass:
    """Image jobs through ``executor``, timed (wall, CPU in the workers, CPU of this process)."""
    t0, p0 = time.perf_counter(), time.process_time()
    done, worker_cpu = 0, 0.0
    for gen, cpu in executor.map_unordered(timed_job, jobs):
        assert gen.error is None, gen.error
        done += 1
        worker_cpu += cpu
    wall, parent = time.perf_counter() - t0, time.process_time() - p0
    if executor.workers == 1:  # the serial executor runs the jobs in this process
        parent -= worker_cpu
    return Pass(done, wall, worker_cpu, max(parent, 0.0))


def executor_rate(executor: Executor, jobs: list[Job]) -> Rate:
    """Image jobs per second through ``executor`` (warmed first)."""
    warm(executor, jobs)
    return combined([executor_pass(executor, jobs)])


@dataclass(frozen=True)
class Rounds:
    """Paired rounds of two executors over the same jobs: in each round both run the round's jobs
    back to back (A then B, then B then A in the next round, ...), so load that comes and goes on
    a shared machine falls on both sides of a round alike; each round gives one ratio (B's rate over
    A's), and their median is the figure, with their spread."""

    ratios: tuple[float, ...]
    a: Rate
    b: Rate
    per_round: int
    """Jobs in each executor's pass of a round."""

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    def spread(self) -> str:
        """How far the rounds' ratios lie apart, for the note."""
        return (
            f"median of {len(self.ratios)} paired rounds of {self.per_round} jobs (A-B, B-A, ...), "
            f"rounds {min(self.ratios):.2f}..{max(self.ratios):.2f}"
        )


def round_jobs(jobs: list[T], index: int, per_round: int) -> list[T]:
    """Round ``index``'s jobs: the next ``per_round`` of ``jobs``, from where the last round stopped
    (wrapping round), so the rounds together cover the list evenly."""
    if not jobs or per_round < 1:
        raise RuntimeError("a round needs jobs")
    return [jobs[(index * per_round + i) % len(jobs)] for i in range(per_round)]


def a_first(r: int, chunks: int) -> bool:
    """Whether round ``r`` runs A before B: the order alternates per round, and flips each time an
    even number of ``chunks`` (distinct rounds' job lists) comes round again; with two chunks a plain
    ``r % 2`` would always run the first chunk A-B and the second B-A, tying the order to a workload."""
    return (r + (r // chunks if chunks % 2 == 0 else 0)) % 2 == 0


def paired_rounds(one: Executor, two: Executor, jobs: list[Job], rounds: int, per_round: int) -> Rounds:
    """``rounds`` paired rounds of ``one`` (A) and ``two`` (B), both warmed first, each round's pass
    ``per_round`` jobs (at most all of ``jobs``) through the runner's worker function."""
    if rounds < 1:
        raise RuntimeError("paired rounds need at least one round")
    warm(one, jobs)
    warm(two, jobs)
    size = min(per_round, len(jobs))
    chunks = len(jobs) // math.gcd(len(jobs), size)  # rounds before the chunks repeat
    a, b, ratios = list[Pass](), list[Pass](), list[float]()
    for r in range(rounds):
        chunk = round_jobs(jobs, r, size)
        if a_first(r, chunks):
            pa = executor_pass(one, chunk)
            pb = executor_pass(two, chunk)
        else:
            pb = executor_pass(two, chunk)
            pa = executor_pass(one, chunk)
        a.append(pa)
        b.append(pb)
        ratios.append(combined([pb]).per_s / combined([pa]).per_s)
    return Rounds(tuple(ratios), combined(a), combined(b), size)


def scaling(work: Path, sizes: Sizes) -> list[Figure]:
    """``make_executor(1)`` (what ``--workers 1`` runs) against the 2-process executor, in paired
    rounds. On a shared machine the wall-clock ratio says more about the neighbours than about
    mintloom, so the CPU each side spent is reported too: the speed-up two idle cores would give."""
    jobs = image_jobs(work / "scaling", sizes.scaling_segments)[: sizes.scaling_jobs]
    one_ex, two_ex = make_executor(1), ProcessExecutor(2)
    try:
        rounds = paired_rounds(one_ex, two_ex, jobs, sizes.scaling_rounds, sizes.scaling_per_round)
    finally:
        one_ex.close()
        two_ex.close()
    one, two = rounds.a, rounds.b
    ideal_two = two.cpu_bound_wall(2)
    cpu_ratio = one.cpu_bound_wall(1) / ideal_two if ideal_two else 0.0
    where = (
        f"runner executor (generate_job: render, fingerprints, pickling) on {len(jobs)} demo-mix "
        "images, 1 worker (A) and 2 workers (B), workers warmed"
    )
    return [
        Figure(
            "image_2_worker_scaling",
            rounds.median,
            "x",
            1.8,
            ">=",
            f"{where}, wall clock, {rounds.spread()}; all rounds: 1 worker {one.per_s:.2f}/s, 2 workers "
            f"{two.per_s:.2f}/s; {load()} (2 cores shared with other jobs: see image_2_worker_scaling_cpu)",
        ),
        Figure(
            "image_2_worker_scaling_cpu",
            cpu_ratio,
            "x",
            1.8,
            ">=",
            f"{where}, from CPU seconds over all {len(rounds.ratios)} rounds (as on two idle cores): "
            f"1 worker {one.worker_cpu + one.parent_cpu:.1f} s; 2 workers {two.worker_cpu:.1f} s in the "
            f"workers, {two.parent_cpu:.1f} s in the parent",
        ),
        Figure(
            "image_demo_mix_assets_per_s_per_worker", one.per_s, "assets/s", note="generate_job, 1 worker"
        ),
    ]


def measure(work: Path, sizes: Sizes) -> list[Figure]:
    mix = breakdown(run_demo_mix(work / "mix", sizes.segments))
    return [*mix, *scaling(work, sizes)]


def run(work: Path) -> list[Figure]:
    return measure(work, Sizes())
