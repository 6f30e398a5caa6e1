"""Verify a folder's files on every core: a process pool over chunks of files.

Checking a credential is mostly Python (parsing, hashing, building the report), so threads of one
process share one core. Each worker process builds its own :class:`VerifyContext` once, from a
picklable factory (its own catalog connection and chain reader), and verifies a chunk of files at
a time with :func:`verify_many` (licences read per chunk). Reports come back in file order, with
at most a few chunks per worker in flight, so memory does not grow with the folder.
"""

from __future__ import annotations

import math
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from mintloom.errors import VerifyError
from mintloom.verify.report import VerifyReport
from mintloom.verify.verifier import VerifyContext, verify_many

ContextFactory = Callable[[], VerifyContext]
"""Builds a worker's context; must pickle (a module-level function or a ``functools.partial``)."""

MAX_CHUNK = 64
"""Files per task at most: large enough to amortise the round trip, small enough to balance."""
IN_FLIGHT = 3
"""Chunks per worker submitted ahead of the one being read (bounds memory, keeps cores busy)."""
FILES_PER_JOB = 150
"""Files per process at least: a process spends a second or two on imports and its context before
its first file (~15 ms each), so a second one pays off from a few hundred files."""


@dataclass
class _Worker:
    """This worker process's state: how to build its context, and the context once built."""

    factory: ContextFactory | None = None
    threads: int = 1
    ctx: VerifyContext | None = None


_WORKER = _Worker()


def verify_files(
    paths: Sequence[Path],
    ctx: VerifyContext,
    factory: ContextFactory,
    *,
    jobs: int,
    threads: int = 1,
    on_done: Callable[[VerifyReport], None] | None = None,
) -> Iterator[VerifyReport]:
    """Verify ``paths``, yielding reports in their order. One job (asked, or all a small folder
    is worth: :data:`FILES_PER_JOB`) runs here with ``ctx``; more runs that many processes whose
    contexts ``factory`` builds, each verifying with ``threads`` threads (they overlap waits on a
    remote chain)."""
    jobs = min(jobs, max(1, len(paths) // FILES_PER_JOB))
    if jobs <= 1:
        yield from verify_many(paths, ctx, workers=threads, on_done=on_done)
        return
    chunk = max(1, min(MAX_CHUNK, math.ceil(len(paths) / (jobs * 4))))
    chunks = (list(paths[i : i + chunk]) for i in range(0, len(paths), chunk))
    spawn = multiprocessing.get_context("spawn")  # no fork of open connections and threads
    with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_start, initargs=(factory, threads)) as pool:
        pending: deque[Future[list[VerifyReport]]] = deque()
        for part in chunks:
            pending.append(pool.submit(_verify_chunk, part))
            if len(pending) >= jobs * IN_FLIGHT:
                yield from _collect(pending.popleft(), on_done)
        while pending:
            yield from _collect(pending.popleft(), on_done)


def _collect(
    future: Future[list[VerifyReport]], on_done: Callable[[VerifyReport], None] | None
) -> Iterator[VerifyReport]:
    """A chunk's reports; a worker's own error (e.g. its context could not be opened) is raised
    here as it was raised there."""
    try:
        reports = future.result()
    except BrokenProcessPool as exc:
        raise VerifyError(
            "a verify worker process died", hint="run again with --jobs 1 to see the file that kills it"
        ) from exc
    for report in reports:
        if on_done is not None:
            on_done(report)
        yield report


def _start(factory: ContextFactory, threads: int) -> None:
    """Worker initialiser: remember how to build the context (built by the first chunk, so that
    an error opening it reaches the caller as itself, not as a broken pool)."""
    _WORKER.factory, _WORKER.threads = factory, threads


def _verify_chunk(paths: list[Path]) -> list[VerifyReport]:
    if _WORKER.ctx is None:
        assert _WORKER.factory is not None, "the pool's initializer sets the factory"
        _WORKER.ctx = _WORKER.factory()
    return list(verify_many(paths, _WORKER.ctx, workers=_WORKER.threads))
