"""Executor conformance: every executor runs every job once, returns errors instead of raising,
and gives byte-identical artifacts (generation is a pure function of the job)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mintloom.campaign.execute import Executor, Generated, ProcessExecutor, SerialExecutor, generate_job
from mintloom.campaign.plan import Job
from mintloom.errors import ExecutionError
from mintloom.store.thumbnails import render_thumbnail


def _square(n: int) -> int:
    return n * n


class ExecutorConformance:
    """Every executor passes these (the Ray executor's run in tests/campaign/test_ray.py)."""

    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        raise NotImplementedError

    def test_jobs_in_flight_are_bounded(self, executor: Executor) -> None:
        """Back-pressure: the executor pulls a job only when few enough are unfinished, so a plan
        of 100k jobs holds at most a few per worker in memory."""
        pulled = 0

        def source() -> Iterator[int]:
            nonlocal pulled
            for n in range(300):
                pulled += 1
                yield n

        finished, peak = 0, 0
        for _ in executor.map_unordered(_square, source()):
            finished += 1
            peak = max(peak, pulled - finished)
        assert finished == 300
        assert peak <= 4 * executor.workers  # an unbounded executor pulls all 300 at once

    def test_runs_every_item_once(self, executor: Executor) -> None:
        assert sorted(executor.map_unordered(_square, range(40))) == [n * n for n in range(40)]
        assert list(executor.map_unordered(_square, [])) == []

    def test_generation_is_pure_and_errors_are_returned(
        self, executor: Executor, conformance_jobs: list[Job]
    ) -> None:
        jobs = conformance_jobs
        first = {g.job_key: g for g in executor.map_unordered(generate_job, jobs)}
        serial = {j.key: generate_job(j) for j in jobs}
        assert first.keys() == serial.keys()
        for key, g in first.items():
            assert g.error is None and g.artifact is not None and serial[key].artifact is not None
            assert g.artifact.data == serial[key].artifact.data  # byte-identical wherever it ran
            assert g.fingerprints == serial[key].fingerprints
        broken = jobs[0].model_copy(update={"engine": "no-such-engine"})
        (result,) = list(executor.map_unordered(generate_job, [broken]))
        assert isinstance(result, Generated) and result.artifact is None
        assert result.error is not None and "no engine named 'no-such-engine'" in result.error


class TestSerialExecutor(ExecutorConformance):
    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        ex = SerialExecutor()
        yield ex
        ex.close()


class TestProcessExecutor(ExecutorConformance):
    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        ex = ProcessExecutor(2)
        yield ex
        ex.close()


def test_make_executor_validates_workers() -> None:
    from mintloom.campaign.execute import make_executor

    assert isinstance(make_executor(1), SerialExecutor)
    assert isinstance(make_executor(3), ProcessExecutor)
    with pytest.raises(ExecutionError, match="at least 1"):
        make_executor(0)


def test_the_worker_makes_an_images_thumbnail_from_its_pixels(conformance_jobs: list[Job]) -> None:
    """The gallery thumbnail comes with the worker's result (the runner's process decoded every
    image again for it, serially): the same JPEG as one made by decoding the lossless file."""
    images = [j for j in conformance_jobs if j.kind == "image"]
    assert images
    for job in images:
        g = generate_job(job)
        assert g.artifact is not None and g.thumbnail is not None
        assert ("thumbnail" in dict(g.cpu_seconds)) and g.thumbnail[:2] == b"\xff\xd8"
        if g.artifact.media_type == "image/png":
            assert g.thumbnail == render_thumbnail(g.artifact.data)
    copy = [j for j in conformance_jobs if j.kind != "image"]
    assert all(generate_job(j).thumbnail is None for j in copy)


def _blas_threads(_: int) -> list[int]:
    """The thread counts of the OpenBLAS libraries loaded in this process (numpy's and scipy's)."""
    import ctypes

    import numpy  # noqa: F401
    import scipy.fftpack  # noqa: F401

    counts = []
    with open("/proc/self/maps", encoding="utf-8") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads"):
            if hasattr(lib, name):
                counts.append(int(getattr(lib, name)()))
    return counts


def test_a_pool_worker_runs_its_blas_on_one_thread() -> None:
    """Forked workers kept the parent's OpenBLAS pool (a thread per core): two workers on two
    cores spun each other's second thread, and the two-worker pass cost 15% more CPU per image."""
    ex = ProcessExecutor(2)
    try:
        seen = list(ex.map_unordered(_blas_threads, range(4)))
    finally:
        ex.close()
    assert all(counts and set(counts) == {1} for counts in seen), seen
