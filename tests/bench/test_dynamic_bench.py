"""The dynamic-creative benchmark at a small size: real HTTP to `mintloom serve`, real anvil."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.bench import SUITES
from mintloom.bench.dynamic import measure

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
    assert "slowest (" in figs["dynamic_uncached_300x250_p99_ms"].note
    assert 0 < figs["dynamic_anchoring_lag_s"].value < 120
