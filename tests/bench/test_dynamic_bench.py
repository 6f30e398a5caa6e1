"""The dynamic-creative benchmark at a small size: real HTTP to `mintloom serve`, real anvil."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mintloom.bench import SUITES
from mintloom.bench.dynamic import _stages, measure

pytestmark = pytest.mark.xdist_group("anvil")


def test_dynamic_bench_measures_cached_uncached_throughput_and_anchoring(tmp_path: Path) -> None:
    assert "dynamic" in SUITES
    figs = {f.name: f for f in measure(tmp_path, uncached=3, cached=6, parallel=4)}
    for label in ("300x250", "1080sq"):
        cold, hot = figs[f"dynamic_uncached_{label}_p50_ms"], figs[f"dynamic_cached_{label}_p50_ms"]
        assert hot.value < cold.value  # a cache hit skips generation and signing (same run, a ratio)
        assert figs[f"dynamic_cached_{label}_p99_ms"].target == 20.0
        assert "3 sequential" in cold.note and "6 sequential" in hot.note
    assert figs["dynamic_uncached_300x250_p99_ms"].target == 150.0
    assert figs["dynamic_uncached_300x250_p50_ms"].value < figs["dynamic_uncached_1080sq_p50_ms"].value
    assert figs["dynamic_uncached_renders_per_s_2_in_flight"].value > 0
    assert figs["dynamic_uncached_renders_per_s_2_workers"].value > 0  # `serve --workers 2`
    assert figs["dynamic_server_start_s"].value > 0 and figs["dynamic_first_request_ms"].value > 0
    # the server's own stage timings, and the slowest request's, explain the uncached tail
    for stage in ("plan", "generate", "sign", "log", "catalog", "result", "http"):
        assert f" {stage} " in figs["dynamic_uncached_300x250_p99_ms"].note
    assert "the 3 slowest: " in figs["dynamic_uncached_300x250_p99_ms"].note
    assert 0 < figs["dynamic_anchoring_lag_s"].value < 120


def test_the_note_gives_the_stages_of_each_of_the_three_slowest_renders() -> None:
    """The p99 of 120 is the 2nd slowest: the note shows the 3 slowest, each stage by stage, so
    a reader sees whether the tail has one cause or several."""

    def timed(total: float, result: float) -> tuple[float, httpx.Response]:
        return total, httpx.Response(
            200, headers={"Server-Timing": f"generate;dur=30.0, result;dur={result}"}
        )

    samples = [timed(100.0 + i, 1.0) for i in range(10)] + [
        timed(790.0, 590.0),
        timed(500.0, 2.0),
        timed(300.0, 250.0),
    ]
    note = _stages(samples)
    tail = note.split("the 3 slowest: ")[1].split("; ")
    assert tail == [
        "790 ms = generate 30.0, result 590.0, http 170.0",
        "500 ms = generate 30.0, result 2.0, http 468.0",
        "300 ms = generate 30.0, result 250.0, http 20.0",
    ]
    assert note.startswith("stage medians ms: generate 30.0, result 1.0, http 74.0")
