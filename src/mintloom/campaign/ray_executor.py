"""Ray executor: the campaign's jobs as Ray tasks, on a local Ray or a multi-node cluster.

The same contract as the local process pool: results stream back unordered to the one writer
that signs, logs and commits in batches, and only a bounded number of jobs is in flight (memory
stays flat however many jobs a plan has). Ray retries a job whose worker process died
(``max_retries``); generation is a pure function of the job, so a retry makes the same bytes, and
the writer, which alone commits, still sees each job exactly once.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from mintloom.config import RaySettings
from mintloom.errors import ClusterError

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_CPU = 4
"""Jobs submitted per cluster CPU before the executor waits for one to finish (back-pressure)."""


def _import_ray() -> Any:
    """Ray, typed as ``Any`` at the boundary (an optional extra)."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ClusterError('engine.executor = "ray" needs Ray', hint="pip install 'mintloom[ray]'") from exc


def _apply(fn: Callable[[T], R], item: T) -> R:
    """The Ray task: any callable (a partial, a builtin) applied to one item."""
    return fn(item)


class RayExecutor:
    """Runs jobs as Ray tasks. It starts (and at ``close`` stops) a local Ray when none is
    connected in this process and ``ray.address`` is unset; with an address it connects to that
    cluster. A Ray already initialised by the caller is used as is and left running."""

    def __init__(self, workers: int, settings: RaySettings | None = None) -> None:
        self.workers = workers
        self.settings = settings or RaySettings()
        self._owned = False

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray = self._connect()
        task = ray.remote(num_cpus=1, max_retries=self.settings.max_retries)(_apply)
        fn_ref = ray.put(fn)  # shipped once, not with every job
        limit = IN_FLIGHT_PER_CPU * self._cpus(ray)
        pending: list[Any] = []
        try:
            for item in items:
                pending.append(task.remote(fn_ref, item))
                while len(pending) >= limit:
                    ref, pending = self._next_done(ray, pending)
                    yield self._result(ray, ref)
            while pending:
                ref, pending = self._next_done(ray, pending)
                yield self._result(ray, ref)
        finally:
            for ref in pending:  # the consumer stopped early: free the cluster
                ray.cancel(ref)

    def close(self) -> None:
        if self._owned:
            _import_ray().shutdown()
            self._owned = False

    # -- helpers ----------------------------------------------------------------------------------
    def _connect(self) -> Any:
        ray = _import_ray()
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
    def _next_done(ray: Any, pending: list[Any]) -> tuple[Any, list[Any]]:
        done, rest = ray.wait(pending, num_returns=1)
        return done[0], list(rest)

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
