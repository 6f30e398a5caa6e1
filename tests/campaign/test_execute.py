"""Executor conformance: every executor runs every job once, returns errors instead of raising,
and gives byte-identical artifacts (generation is a pure function of the job)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mintloom.campaign.execute import Executor, Generated, ProcessExecutor, SerialExecutor, generate_job
from mintloom.campaign.plan import Job, plan_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry
from mintloom.errors import ExecutionError

from .conftest import write_campaign


def _square(n: int) -> int:
    return n * n


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> list[Job]:
    plan = plan_campaign(load_spec(write_campaign(tmp_path_factory.mktemp("c"))), engine_registry())
    small = [j for j in plan.jobs if j.format in {"leaderboard", "medium-rectangle"} or j.kind != "image"]
    return small[:8]


class ExecutorConformance:
    @pytest.fixture
    def executor(self) -> Iterator[Executor]:
        raise NotImplementedError

    def test_runs_every_item_once(self, executor: Executor) -> None:
        assert sorted(executor.map_unordered(_square, range(40))) == [n * n for n in range(40)]
        assert list(executor.map_unordered(_square, [])) == []

    def test_generation_is_pure_and_errors_are_returned(self, executor: Executor, jobs: list[Job]) -> None:
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
