"""Executors: where generation jobs run (in process, a local process pool, or Ray: a small Protocol).

Workers only *generate* (the expensive, embarrassingly parallel part) and fingerprint images;
signing, logging and cataloguing happen in the calling process, which owns the keys and the
database transaction.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol, TypeVar

from PIL import Image

from mintloom.campaign.blas import single_threaded_blas
from mintloom.campaign.plan import Job
from mintloom.config import RaySettings
from mintloom.engines.base import Artifact, RendersPixels, engine_registry
from mintloom.engines.qa import QAMeasurements, measure
from mintloom.errors import ExecutionError, MintloomError
from mintloom.store.thumbnails import render_thumbnail, thumbnail_of, thumbnailable

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Generated:
    """A finished job: its artifact, or the error that stopped it."""

    job_key: str
    artifact: Artifact | None
    fingerprints: tuple[tuple[int, int], ...] = ()
    """(pHash, dHash) of the image and of its registration views (light crops), for soft binding."""
    error: str | None = None
    error_type: str | None = None
    seconds: tuple[tuple[str, float], ...] = ()
    """Worker-side time per stage (generate, encode, fingerprint, qa), for the runner's stage clock."""
    cpu_seconds: tuple[tuple[str, float], ...] = ()
    """The same stages in CPU seconds of the worker's thread."""
    qa: QAMeasurements | None = None
    """The brand QA measurements of a laid-out image (its pixels, read where they are)."""
    caption: Artifact | None = None
    """The captioning model's description of the image (``Job.caption``), for its alt text."""
    thumbnail: bytes | None = None
    """The gallery's JPEG thumbnail of an image, made from the pixels the worker holds (decoding
    the file again in the runner's process cost ~44 ms a 1080² image there, serially)."""


class Executor(Protocol):
    workers: int

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to every item, yielding results as they finish."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs jobs in the calling process (tests, debugging, one worker)."""

    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        return None


class ProcessExecutor:
    """A local process pool with a bounded number of jobs in flight (memory stays flat)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=start_worker)
        pool = self._pool
        it = iter(items)
        in_flight: set[Future[R]] = set()
        limit = self.workers * 4
        try:
            for item in it:
                in_flight.add(pool.submit(fn, item))
                if len(in_flight) >= limit:
                    done, in_flight = _wait_some(in_flight)
                    for f in done:
                        yield f.result()
            while in_flight:
                done, in_flight = _wait_some(in_flight)
                for f in done:
                    yield f.result()
        finally:
            for f in in_flight:
                f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


_PR_SET_PDEATHSIG = 1


def start_worker() -> None:
    """Pool initializer: tie the worker to its parent, then load what every job needs (the
    engines, numpy/scipy for fingerprints) once, in all workers at once, instead of in whichever
    job each worker happens to run first."""
    die_with_parent()
    single_threaded_blas()
    import mintloom.provenance.fingerprint  # noqa: F401

    engine_registry()


def die_with_parent() -> None:
    """Pool initializer: a worker dies with the process that started it. Otherwise a killed
    ``mintloom run`` leaves its workers (hundreds of MB each) waiting forever on the job queue.
    Linux delivers SIGKILL on the parent's death (``prctl``); elsewhere a thread watches."""
    parent = os.getppid()
    if not _parent_death_signal():
        watch_parent(parent)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int, interval: float = 0.5) -> threading.Thread:
    """Portable fallback: a daemon thread that ends the process once it is orphaned (its parent
    pid changes when the parent dies)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="mintloom-watch-parent", daemon=True)
    thread.start()
    return thread


def _wait_some(futures: set[Future[R]]) -> tuple[set[Future[R]], set[Future[R]]]:
    done, rest = wait(futures, return_when=FIRST_COMPLETED)
    return set(done), set(rest)


def make_executor(workers: int, kind: str = "local", ray: RaySettings | None = None) -> Executor:
    """The configured executor: ``local`` (in process for one worker, else a process pool) or
    ``ray`` (tasks on the cluster of ``ray.address``, see :mod:`mintloom.campaign.ray_executor`)."""
    if workers < 1:
        raise ExecutionError("--workers must be at least 1")
    if kind == "ray":
        from mintloom.campaign.ray_executor import RayExecutor

        return RayExecutor(workers, ray)
    if kind != "local":
        raise ExecutionError(f"no executor named {kind!r}", hint='engine.executor is "local" or "ray"')
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)


def generate_job(job: Job) -> Generated:
    """Worker entry point: run the job's engine and fingerprint image output. Errors are
    returned, not raised, so the parent can name the job that failed."""
    try:
        engine = engine_registry().get(job.engine)  # loaded once per worker process
        if engine is None:
            raise ExecutionError(f"no engine named {job.engine!r}")
        t0, c0 = time.perf_counter(), time.thread_time()
        pixels, qa = None, None
        if isinstance(engine, RendersPixels):
            rendered = engine.render_pixels(job.request)
            artifact, pixels = rendered.artifact, rendered.pixels
            seconds = [("generate", rendered.generate_s), ("encode", rendered.encode_s)]
            cpu = [("generate", rendered.generate_cpu_s), ("encode", rendered.encode_cpu_s)]
            if rendered.layout is not None:
                t_qa, c_qa = time.perf_counter(), time.thread_time()
                qa = measure(pixels, rendered.layout, job.request.brand.palette, rendered.array)
                seconds.append(("qa", time.perf_counter() - t_qa))
                cpu.append(("qa", time.thread_time() - c_qa))
        else:
            artifact = engine.generate(job.request)
            seconds = [("generate", time.perf_counter() - t0)]
            cpu = [("generate", time.thread_time() - c0)]
        fps: tuple[tuple[int, int], ...] = ()
        if job.kind == "image":
            fps, wall, cpu_s = _timed_fingerprints(artifact, pixels)
            seconds.append(("fingerprint", wall))
            cpu.append(("fingerprint", cpu_s))
        thumb = None
        if job.kind == "image" and thumbnailable(artifact.media_type):
            t_th, c_th = time.perf_counter(), time.thread_time()
            thumb = thumbnail_of(pixels) if pixels is not None else render_thumbnail(artifact.data)
            seconds.append(("thumbnail", time.perf_counter() - t_th))
            cpu.append(("thumbnail", time.thread_time() - c_th))
        t_cap, c_cap = time.perf_counter(), time.thread_time()
        caption = _caption(job, artifact)
        if caption is not None:
            seconds.append(("tag", time.perf_counter() - t_cap))
            cpu.append(("tag", time.thread_time() - c_cap))
        return Generated(
            job.key, artifact, fps, seconds=tuple(seconds), cpu_seconds=tuple(cpu), qa=qa, caption=caption,
            thumbnail=thumb,
        )  # fmt: skip
    except MintloomError as exc:
        return Generated(job.key, None, error=exc.message, error_type=type(exc).__name__)


def _caption(job: Job, artifact: Artifact) -> Artifact | None:
    """The captioning model's description of an image (None when the spec names no model); the
    job's seed fixes the decoding, so a job is captioned the same on every run."""
    if job.caption is None:
        return None
    from mintloom.engines.caption import CaptionEngine

    params = job.caption.model_copy(update={"image": artifact.data})
    request = job.request.model_copy(update={"kind": "copy", "format": None, "params": params})
    return CaptionEngine().generate(request)


def _timed_fingerprints(
    artifact: Artifact, pixels: Image.Image | None
) -> tuple[tuple[tuple[int, int], ...], float, float]:
    """:func:`_fingerprints` and its wall and CPU seconds. The module (numpy, scipy) is imported
    before the clock starts: that is once per process, not a cost of each image."""
    import mintloom.provenance.fingerprint  # noqa: F401

    t0, c0 = time.perf_counter(), time.thread_time()
    fps = _fingerprints(artifact, pixels)
    return fps, time.perf_counter() - t0, time.thread_time() - c0


def _fingerprints(artifact: Artifact, pixels: Image.Image | None) -> tuple[tuple[int, int], ...]:
    """(pHash, dHash) of the registration views: from the pixels the engine encoded as PNG
    (lossless, so the same hashes as decoding the file), else from the file."""
    from mintloom.provenance.fingerprint import registration_fingerprints, registration_fingerprints_image

    if pixels is not None and artifact.media_type == "image/png":
        fps = registration_fingerprints_image(pixels)
    else:
        fps = registration_fingerprints(artifact.data)
    return tuple((fp.phash, fp.dhash) for fp in fps)
