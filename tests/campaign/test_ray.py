"""The Ray executor on one local Ray shared by this module (2 CPUs, no dashboard): the executor
conformance suite, a worker killed mid-task (the job is retried: no duplicate asset, no lost job)
and the configuration that selects it."""

from __future__ import annotations

import functools
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mintloom.campaign.execute import Executor, make_executor
from mintloom.campaign.ray_executor import TARGET_TASK_S, BatchSizer, RayExecutor, probe_client_address
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.config import RaySettings, load_settings
from mintloom.errors import ClusterError, ConfigError
from mintloom.store.catalog import AssetRow, Catalog, JobRow
from mintloom.studio import Studio

from .test_execute import ExecutorConformance

pytestmark = pytest.mark.xdist_group("ray")

CPUS = 2


@pytest.fixture(scope="module")
def local_ray() -> Iterator[RayExecutor]:
    """One local Ray for the module, started (and stopped) by an executor that owns it."""
    owner = RayExecutor(CPUS, RaySettings(num_cpus=CPUS, object_store_mb=128))
    assert list(owner.map_unordered(abs, [-1])) == [1]  # starts it
    yield owner
    owner.close()
    import ray

    assert not ray.is_initialized()  # the owner stopped the Ray it started


class TestRayExecutor(ExecutorConformance):
    @pytest.fixture
    def executor(self, local_ray: RayExecutor) -> Iterator[Executor]:
        ex = RayExecutor(CPUS)  # joins the module's Ray, leaves it running at close
        yield ex
        ex.close()


def _die_once(marker: Path, victim: int, n: int) -> tuple[int, int]:
    """Square ``n``; the first worker that gets ``victim`` writes its pid and is SIGKILLed."""
    if n == victim and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return n, os.getpid()


def test_killed_worker_is_retried_once_per_job(local_ray: RayExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    results = list(RayExecutor(CPUS).map_unordered(functools.partial(_die_once, marker, 7), range(20)))
    assert sorted(n for n, _ in results) == list(range(20))  # every job once: none lost, none twice
    dead = int(marker.read_text())
    assert dead != os.getpid()  # a worker died, not this process
    assert dict(results)[7] != dead  # job 7 finished on another worker


def test_job_lost_past_its_retries_is_named(local_ray: RayExecutor, tmp_path: Path) -> None:
    no_retry = RayExecutor(CPUS, RaySettings(max_retries=0))
    with pytest.raises(ClusterError, match="lost on the Ray cluster"):
        list(no_retry.map_unordered(functools.partial(_die_once, tmp_path / "killed", 3), range(6)))


class KillOneJob:
    """The module's Ray executor, with the worker running job ``victim`` SIGKILLed the first time."""

    def __init__(self, victim: str, marker: Path) -> None:
        self.inner = RayExecutor(CPUS)
        self.workers = CPUS
        self.victim, self.marker = victim, marker

    def map_unordered(self, fn: Callable[[object], object], items: object) -> Iterator[object]:
        return self.inner.map_unordered(functools.partial(_kill_job, self.marker, self.victim, fn), items)  # type: ignore[arg-type]

    def close(self) -> None:
        self.inner.close()


def _kill_job(marker: Path, victim: str, fn: Callable[[object], object], job: object) -> object:
    if getattr(job, "key", None) == victim and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return fn(job)


def test_run_on_ray_survives_a_killed_worker(local_ray: RayExecutor, studio: Studio, tmp_path: Path) -> None:
    spec = sample_spec(locales=("en-US",), formats=("square", "leaderboard"), copy=False, audio=False)
    spec_path = write_sample_campaign(tmp_path / "campaign", spec, sample_audience(3))
    runner = CampaignRunner(studio.run_parts(), load_spec(spec_path), batch_size=2)
    plan = runner.plan()
    victim = plan.jobs[len(plan.jobs) // 2].key
    marker = studio.workspace.root / "killed"
    summary = runner.generate(plan, KillOneJob(victim, marker))  # type: ignore[arg-type]
    assert marker.exists()  # the kill happened
    with studio.db.session() as s:
        jobs = s.scalar(select(func.count()).select_from(JobRow))
        assets = s.scalar(select(func.count()).select_from(AssetRow))
    assert jobs == len(plan.jobs)  # no lost job (a job's key is the primary key: none twice)
    assert set(Catalog(studio.db).done_jobs(summary.campaign)) == {j.key for j in plan.jobs}
    assert assets == summary.new_assets == studio.log.size  # each asset once, logged once


def test_executor_is_chosen_by_configuration(tmp_path: Path) -> None:
    config = tmp_path / "mintloom.toml"
    config.write_text('[engine]\nworkers = 2\nexecutor = "ray"\n[ray]\naddress = "ray://head:10001"\n')
    settings = load_settings(config)
    ex = make_executor(settings.engine.workers, settings.engine.executor, settings.ray)
    assert isinstance(ex, RayExecutor) and ex.settings.address == "ray://head:10001"
    config.write_text('[ray]\naddress = "http://head:8265"\n')
    with pytest.raises(ConfigError, match="ray:// URL"):
        load_settings(config)


def test_bench_compares_ray_with_the_local_pool_on_the_same_jobs(
    local_ray: RayExecutor, tmp_path: Path
) -> None:
    from mintloom.bench import cluster

    (fig,) = cluster.measure(tmp_path, segments=1, limit=2, rounds=3, per_round=2)
    assert fig.name == "ray_vs_local_pool_2_workers" and fig.target == 0.8 and fig.value > 0
    assert "same 2 demo-mix images" in fig.note
    assert "median of 3 paired rounds of 2 jobs" in fig.note


def _logged_die_once(marker: Path, ran: Path, victim: int, n: int) -> tuple[int, int]:
    """:func:`_die_once`, appending each item it starts to ``ran`` (a retry shows up twice)."""
    with ran.open("a") as f:
        f.write(f"{n}\n")
    return _die_once(marker, victim, n)


def test_worker_killed_mid_batch_retries_the_batch_and_returns_it_once(
    local_ray: RayExecutor, tmp_path: Path
) -> None:
    marker, ran = tmp_path / "killed", tmp_path / "ran"
    batched = RayExecutor(CPUS, batch=2)  # batches [0, 1], [2, 3], …: 21 is second in [20, 21]
    results = list(batched.map_unordered(functools.partial(_logged_die_once, marker, ran, 21), range(40)))
    assert marker.exists()  # the worker died inside the batch
    assert sorted(n for n, _ in results) == list(range(40))  # none lost, none twice
    started = [int(line) for line in ran.read_text().split()]
    assert started.count(20) == 2 and started.count(21) == 2  # the whole batch ran again (20 had finished)…
    assert [n for n, _ in results].count(20) == 1  # …but its results came back once


def test_batches_grow_for_quick_jobs_and_stay_single_for_slow_ones() -> None:
    quick, slow = BatchSizer(most=4), BatchSizer(most=4)
    assert quick.size() == slow.size() == 1  # untimed: one job per task
    quick.observe(8, 0.01)
    slow.observe(2, 3.0)
    assert quick.size() == 4  # capped by the in-flight bound
    assert slow.size() == 1
    middle = BatchSizer(most=4)
    middle.observe(4, 4 * TARGET_TASK_S / 2.5)  # 2.5 jobs fill a task
    assert middle.size() == 2
    assert BatchSizer(most=4, fixed=9).size() == 4


def test_a_sizer_carries_its_timing_into_the_next_call_as_one_job() -> None:
    sizer = BatchSizer(most=2)
    sizer.observe(8, 0.08)  # quick jobs
    sizer.carry()
    assert sizer.size() == 2  # the next call starts with pairs, not single-job tasks
    sizer.observe(2, 2 * TARGET_TASK_S)  # …and one slow batch there outweighs the carried timing
    assert sizer.size() == 1
    fresh = BatchSizer(most=2)
    fresh.carry()  # nothing seen yet: one job per task
    assert fresh.size() == 1


def test_the_executor_keeps_its_batch_size_from_one_call_to_the_next(local_ray: RayExecutor) -> None:
    ex = RayExecutor(CPUS)
    assert sorted(ex.map_unordered(abs, range(-20, 0))) == list(range(1, 21))
    assert ex._sizer.jobs == 20 and ex._sizer.size() == 2  # quick jobs: pairs
    assert sorted(ex.map_unordered(abs, [-1, -2])) == [1, 2]
    assert ex._sizer.jobs == 3  # the first call weighed as one job, then this call's two


def test_unreachable_ray_address_is_a_named_error_quickly_and_nothing_is_written(
    studio: Studio, tmp_path: Path
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False)
    runner = CampaignRunner(
        studio.run_parts(), load_spec(write_sample_campaign(tmp_path / "c", spec, sample_audience(2)))
    )
    plan = runner.plan()
    ex = RayExecutor(CPUS, RaySettings(address=f"ray://127.0.0.1:{port}"))
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot reach the Ray cluster at ray://127.0.0.1:{port}") as err:
        runner.generate(plan, ex)
    assert time.monotonic() - started < 60  # a hang guard (Ray's client retries for minutes), not a timing
    assert err.value.hint is not None and "ray start --head" in err.value.hint
    with studio.db.session() as s:
        assert s.scalar(select(func.count()).select_from(JobRow)) == 0
        assert s.scalar(select(func.count()).select_from(AssetRow)) == 0
    assert studio.log.size == 0


def test_a_ray_address_that_never_answers_times_out_with_the_named_error() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"ray://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(ClusterError, match="cannot reach the Ray cluster") as err:
            probe_client_address(address, timeout=0.5)
        assert isinstance(err.value.__cause__, TimeoutError)
        with pytest.raises(ClusterError, match="cannot reach the Ray cluster"):
            list(RayExecutor(CPUS, RaySettings(address=address)).map_unordered(abs, [1]))
    with pytest.raises(ClusterError, match="cannot reach"):
        probe_client_address("ray://head:notaport")
