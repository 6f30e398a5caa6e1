"""The pipeline benchmark at a small size: it runs the real runner and reads its stage clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.bench import Figure
from mintloom.bench.pipeline import (
    GENERATION,
    OVERHEAD,
    Pass,
    Rounds,
    Sizes,
    a_first,
    combined,
    executor_rate,
    image_jobs,
    measure,
    overhead_ratio,
    paired_rounds,
    parent_share,
    round_jobs,
)
from mintloom.campaign.execute import ProcessExecutor, make_executor
from mintloom.campaign.run import STAGES


def _by_name(figures: list[Figure]) -> dict[str, Figure]:
    names = [f.name for f in figures]
    assert len(names) == len(set(names)), names
    return {f.name: f for f in figures}


def test_demo_mix_breakdown_and_scaling_figures(tmp_path: Path) -> None:
    figs = _by_name(
        measure(
            tmp_path,
            Sizes(segments=1, scaling_segments=1, scaling_jobs=4, scaling_rounds=3, scaling_per_round=2),
        )
    )
    for stage in STAGES:  # every stage of the real path was clocked
        assert figs[f"pipeline_image_ms_{stage}"].value > 0, stage
    assert "28 images" in figs["pipeline_image_ms_generate"].note  # 7 formats x 4 locales, 1 segment
    ms = {s: figs[f"pipeline_image_ms_{s}"].value for s in STAGES}
    ratio = figs["provenance_overhead_ratio"]
    assert ratio.value == pytest.approx(sum(ms[s] for s in OVERHEAD) / sum(ms[s] for s in GENERATION))
    assert ratio.target == 0.10 and ratio.compare == "<=" and "parentOf" in ratio.note
    assert figs["pipeline_image_ms_total"].value == pytest.approx(sum(ms.values()))
    qa = figs["qa_overhead_ratio"]
    assert qa.value == pytest.approx(ms["qa"] / sum(ms[s] for s in GENERATION))
    assert qa.target == 0.15 and qa.compare == "<=" and "CIEDE2000" in qa.note
    assert (
        figs["tagging_ms_per_image"].value == pytest.approx(ms["tag"])
        and "XMP" in figs["tagging_ms_per_image"].note
    )
    on_cpu = figs["provenance_overhead_ratio_cpu"]  # the same quotient from the stages' CPU seconds
    assert (
        on_cpu.value > 0 and on_cpu.target == 0.10 and on_cpu.compare == "<=" and "CPU seconds" in on_cpu.note
    )
    assert all(f"{stage} " in on_cpu.note for stage in STAGES)
    share = figs["pipeline_runner_process_share_cpu"]  # serial work in the runner's own process
    assert 0 < share.value < 0.5 and "sign" in share.note and "workers" in share.note
    scaling = figs["image_2_worker_scaling"]
    assert scaling.value > 0 and scaling.target == 1.8 and "generate_job" in scaling.note
    assert "median of 3 paired rounds of 2 jobs" in scaling.note
    cpu = figs["image_2_worker_scaling_cpu"]
    assert cpu.value > 0 and cpu.target == 1.8 and "in the parent" in cpu.note


def test_executor_rate_runs_the_runner_job_through_both_executors(tmp_path: Path) -> None:
    jobs = image_jobs(tmp_path, 1)[:3]
    assert len(jobs) == 3 and all(j.kind == "image" for j in jobs)
    serial = make_executor(1)
    pool = ProcessExecutor(2)
    try:
        one = executor_rate(serial, jobs)
        two = executor_rate(pool, jobs)  # generate_job and its result pickle across processes
    finally:
        pool.close()
    assert one.per_s > 0 and two.per_s > 0
    assert one.worker_cpu > 0 and two.worker_cpu > 0  # the jobs' CPU, measured in the workers
    assert two.cpu_bound_wall(2) >= two.worker_cpu / 2


def test_runner_process_share_counts_only_the_runners_stages() -> None:
    cpu = dict.fromkeys(STAGES, 0.0) | {"generate": 70.0, "encode": 10.0, "fingerprint": 5.0, "qa": 5.0}
    cpu |= {"sign": 6.0, "tag": 1.0, "catalog": 2.0, "export": 1.0}
    figure = parent_share(cpu)
    assert figure.value == pytest.approx(10.0 / 100.0)
    assert "at most 10 workers" in figure.note
    with pytest.raises(RuntimeError, match="no CPU"):
        parent_share(dict.fromkeys(STAGES, 0.0))


def test_overhead_ratio_is_provenance_over_generation() -> None:
    ms = dict.fromkeys(STAGES, 0.0) | {"generate": 80.0, "encode": 20.0, "sign": 6.0, "fingerprint": 3.0}
    ms |= {"cid": 0.5, "log": 0.5, "catalog": 50.0, "export": 50.0}  # not provenance: left out
    assert overhead_ratio(ms) == pytest.approx(0.10)
    with pytest.raises(RuntimeError, match="no generation"):
        overhead_ratio(dict.fromkeys(STAGES, 1.0) | {"generate": 0.0, "encode": 0.0})


def test_passes_combine_into_one_rate() -> None:
    rate = combined([Pass(10, 2.0, 3.0, 0.5), Pass(30, 6.0, 9.0, 1.5)])
    assert rate.per_s == pytest.approx(5.0) and rate.worker_cpu == 12.0 and rate.parent_cpu == 2.0
    assert rate.cpu_bound_wall(2) == 6.0
    with pytest.raises(RuntimeError):
        combined([])


def test_paired_rounds_alternate_the_order_and_take_the_median_of_the_rounds_ratios(tmp_path: Path) -> None:
    jobs = image_jobs(tmp_path, 1)[:4]
    serial, pool = make_executor(1), ProcessExecutor(2)
    try:
        rounds = paired_rounds(serial, pool, jobs, rounds=3, per_round=2)
    finally:
        pool.close()
    assert len(rounds.ratios) == 3 and rounds.per_round == 2 and all(r > 0 for r in rounds.ratios)
    assert rounds.median == sorted(rounds.ratios)[1]
    assert rounds.a.per_s > 0 and rounds.b.per_s > 0  # every round's passes, taken together
    assert rounds.a.worker_cpu > 0 and rounds.b.worker_cpu > 0 and rounds.b.parent_cpu >= 0
    assert "median of 3 paired rounds of 2 jobs" in rounds.spread()


def test_rounds_report_the_median_of_their_ratios_and_the_spread() -> None:
    # the figure is the median round's ratio, not the ratio of the rounds' pooled rates (here 4.0)
    rounds = Rounds(
        (2.0, 2.0, 2.1), combined([Pass(8, 4.0, 1.0, 0.0)]), combined([Pass(8, 1.0, 1.0, 0.0)]), 8
    )
    assert rounds.median == 2.0
    assert rounds.spread().endswith("rounds 2.00..2.10")


def test_rounds_walk_the_jobs_evenly_and_wrap_round() -> None:
    picked = [round_jobs(list(range(5)), r, 2) for r in range(4)]
    assert picked == [[0, 1], [2, 3], [4, 0], [1, 2]]
    with pytest.raises(RuntimeError):
        round_jobs([], 0, 2)


@pytest.mark.parametrize(("chunks", "rounds"), [(1, 4), (2, 8), (3, 6), (4, 8), (8, 16)])
def test_every_chunk_of_jobs_runs_as_often_a_first_as_b_first(chunks: int, rounds: int) -> None:
    """With two chunks (56 jobs, 28 a round) the order was r % 2: the first half always ran A-B and
    the second B-A, so an order effect never cancelled."""
    seen: dict[int, list[bool]] = {}
    for r in range(rounds):
        seen.setdefault(r % chunks, []).append(a_first(r, chunks))
    assert all(orders.count(True) == orders.count(False) for orders in seen.values()), seen
