"""Ray executor: the campaign's jobs as Ray tasks, on a local Ray or a multi-node cluster.

The same contract as the local process pool: results stream back unordered to the one writer
that signs, logs and commits in batches, and only a bounded number of jobs is in flight (memory
stays flat however many jobs a plan has). Jobs travel in small batches, one Ray task each, sized
so that a task runs about :data:`TARGET_TASK_S`: Ray's per-task cost (scheduling, a result in the
object store, a round trip before the worker's next task) is paid per batch, not per job. Ray
retries a task whose worker process died (``max_retries``), the whole batch: generation is a pure
function of the job, so a retry makes the same bytes, and a batch's results come back only once,
from the run that finished, so the writer, which alone commits, still sees each job exactly once.
"""

from __future__ import annotations

import importlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mintloom.campaign.blas import single_threaded_blas_once
from mintloom.config import RaySettings
from mintloom.errors import ClusterError

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_CPU = 4
"""Jobs submitted per cluster CPU before the executor waits for one to finish (back-pressure)."""
CONNECT_TIMEOUT_S = 10.0
"""How long a ``ray://`` address may take to accept a connection (Ray's client would retry for minutes)."""
TASKS_PER_CPU = 2
"""Tasks in flight per CPU: a worker's next task is already queued in Ray when it finishes one, so
it never waits for this process to wake (a long wait on a loaded machine). Batches are therefore at
most ``IN_FLIGHT_PER_CPU // TASKS_PER_CPU`` jobs."""
TARGET_TASK_S = 1.0
"""Seconds of work a batch aims at: long beside Ray's ~10 ms per task (the round trip from a worker's
finished task through this process to its next one, measured on a local Ray of 2 CPUs), short
beside a run. With batches of at most 2 jobs, jobs of up to half of it still travel in pairs."""


def _import_ray() -> Any:
    """Ray, typed as ``Any`` at the boundary (an optional extra)."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ClusterError('engine.executor = "ray" needs Ray', hint="pip install 'mintloom[ray]'") from exc


def _apply_batch(fn: Callable[[T], R], items: list[T]) -> tuple[list[R], float]:
    """The Ray task: any callable (a partial, a builtin) applied to a batch of items, in order,
    with the batch's wall seconds (for the batch size)."""
    single_threaded_blas_once()
    t0 = time.perf_counter()
    results = [fn(item) for item in items]
    return results, time.perf_counter() - t0


class BatchSizer:
    """How many jobs the next task carries: one until a batch has been timed, then as many as fill
    :data:`TARGET_TASK_S` at the mean job time seen so far, never more than ``most``."""

    def __init__(self, most: int, fixed: int | None = None) -> None:
        self.most, self.fixed = most, fixed
        self.jobs, self.seconds = 0, 0.0

    def observe(self, jobs: int, seconds: float) -> None:
        self.jobs += jobs
        self.seconds += seconds

    def carry(self) -> None:
        """Start a new call from what the last one saw, weighed as a single job: the first batch
        timed in the new call (other jobs, another load) then outweighs it."""
        if self.jobs:
            self.seconds, self.jobs = self.seconds / self.jobs, 1

    def size(self) -> int:
        if self.fixed is not None:
            return min(self.fixed, self.most)
        if not self.jobs:
            return 1
        per_job = self.seconds / self.jobs
        wanted = self.most if per_job <= 0 else int(TARGET_TASK_S / per_job)
        return max(1, min(self.most, wanted))


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's client server) answers
with its own SETTINGS frame (type 4) at once."""


def probe_client_address(address: str, timeout: float | None = None) -> None:
    """Refuse, within ``timeout`` seconds, a ``ray://`` address nothing listens on or that does not
    answer as a gRPC server, before Ray's client (which retries for minutes) is asked to connect."""
    try:
        url = urlsplit(address)
        where = (url.hostname or "localhost", url.port or 10001)
        with socket.create_connection(where, timeout or CONNECT_TIMEOUT_S) as conn:
            if os.environ.get("RAY_USE_TLS", "0") in ("0", ""):
                conn.sendall(_H2_PREFACE)
                frame = conn.recv(9)
                if len(frame) < 4 or frame[3] != 4:
                    raise ConnectionError("it does not answer as a Ray client server (gRPC)")
    except (OSError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address}: {exc or type(exc).__name__}",
            hint="start the head node with `ray start --head --ray-client-server-port=10001`, or fix "
            'ray.address ("auto" on a cluster node, or ray://head:10001)',
        ) from exc


class RayExecutor:
    """Runs jobs as Ray tasks. It starts (and at ``close`` stops) a local Ray when none is
    connected in this process and ``ray.address`` is unset; with an address it connects to that
    cluster. A Ray already initialised by the caller is used as is and left running."""

    def __init__(self, workers: int, settings: RaySettings | None = None, batch: int | None = None) -> None:
        self.workers = workers
        self.settings = settings or RaySettings()
        self.batch = batch
        """Jobs per task; None sizes batches by their timing (:class:`BatchSizer`)."""
        self._sizer = BatchSizer(IN_FLIGHT_PER_CPU // TASKS_PER_CPU, batch)
        """Kept from one ``map_unordered`` to the next: the runner's later phases (and the next
        run of a long-lived executor) start at the batch size the earlier jobs' timing asked for,
        not with a round of single-job tasks."""
        self._task: Any = None
        self._owned = False

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray = self._connect()
        task = self._remote(ray)
        fn_ref = ray.put(fn)  # shipped once, not with every job
        limit = IN_FLIGHT_PER_CPU * self._cpus(ray)
        sizer = self._sizer
        sizer.carry()
        source, pending, in_flight = iter(items), dict[Any, int](), 0
        try:
            while True:
                in_flight += self._submit(
                    task, fn_ref, source, sizer=sizer, pending=pending, room=limit - in_flight
                )
                if not pending:
                    return
                ref = self._next_done(ray, list(pending))
                in_flight -= pending.pop(ref)
                results, seconds = self._result(ray, ref)
                sizer.observe(len(results), seconds)
                yield from results
        finally:
            for ref in pending:  # the consumer stopped early: free the cluster
                ray.cancel(ref)

    @staticmethod
    def _submit(
        task: Any, fn_ref: Any, source: Iterator[T], *, sizer: BatchSizer, pending: dict[Any, int], room: int
    ) -> int:
        """Submit batches while ``room`` (jobs) allows a full one; returns the jobs submitted."""
        submitted = 0
        while (size := sizer.size()) <= room - submitted:
            batch = list(islice(source, size))
            if not batch:
                break
            pending[task.remote(fn_ref, batch)] = len(batch)
            submitted += len(batch)
        return submitted

    def close(self) -> None:
        self._task = None  # a remote function belongs to the Ray it was made for
        if self._owned:
            _import_ray().shutdown()
            self._owned = False

    # -- helpers ----------------------------------------------------------------------------------
    def _connect(self) -> Any:
        ray = _import_ray()
        if self.settings.address is not None and self.settings.address.startswith("ray://"):
            probe_client_address(self.settings.address)  # even when connected: it is what was asked
        if ray.is_initialized():
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        where = self.settings.address or "a local Ray"
        try:
            ray.init(**self._init_args())
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot start or reach {where}: {exc}",
                hint='check ray.address ("auto" on a cluster node, or ray://head:10001)',
            ) from exc
        self._owned = True
        return ray

    def _remote(self, ray: Any) -> Any:
        """The batch task, made once per executor (not pickled and exported again on every call)."""
        if self._task is None:
            # no task events: they cost the GCS and this process work per task, for Ray's dashboard only
            self._task = ray.remote(
                num_cpus=1, max_retries=self.settings.max_retries, enable_task_events=False
            )(_apply_batch)
        return self._task

    def _init_args(self) -> dict[str, Any]:
        if self.settings.address is not None:
            return {"address": self.settings.address, "log_to_driver": False}
        return {
            "num_cpus": self.settings.num_cpus or self.workers,
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
            "object_store_memory": self.settings.object_store_mb * 1024 * 1024,
        }

    def _cpus(self, ray: Any) -> int:
        """The cluster's CPUs (a remote cluster may have many more than ``workers``)."""
        return max(1, self.workers, int(ray.cluster_resources().get("CPU", 0)))

    @staticmethod
    def _next_done(ray: Any, pending: list[Any]) -> Any:
        done, _ = ray.wait(pending, num_returns=1)
        return done[0]

    @staticmethod
    def _result(ray: Any, ref: Any) -> Any:
        """The task's value; the task's own exception re-raised as itself, a job lost past its
        retries (its worker died each time, a node left) as :class:`ClusterError`."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
        except ray.exceptions.RayError as exc:
            raise ClusterError(
                f"a job was lost on the Ray cluster: {exc}",
                hint="raise ray.max_retries, or check the cluster's nodes",
            ) from exc
