"""make bench-scale at a tiny size: the whole path runs (kill at half-way, resume, anchor,
publish, verify) and every number it reports is measured (timings are never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from mintloom.bench import scale
from mintloom.bench.scale import SizeResult


def test_scale_runs_kill_resume_anchor_publish_verify_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    scale.main(["--sizes", "24", "--plan-rows", "300", "--out", str(out)])
    doc = json.loads(out.read_text())
    size = SizeResult(**doc["sizes"]["24"])
    assert size.assets == 24 and size.verified == 24  # every file of the resumed campaign verifies
    assert size.killed_after_jobs == 12 and 0 <= size.committed_at_kill <= 12
    assert size.rework_pct == 100 * (12 - size.committed_at_kill) / 12
    assert size.peak_rss_mb > 50 and size.catalog_mb > 0 and size.plan_s > 0 and size.resume_s > 0
    # the child's own peak (VmHWM), not the planning parent's carried over exec: run <= whole
    assert 50 < size.run_peak_rss_mb <= size.peak_rss_mb
    assert doc["errors"] == {}
    assert set(doc["targets"]) == {
        "cost_per_asset_24_vs_24",
        "peak_rss_24_vs_24",
        "resume_rework_pct_worst",
        "plan_s_300_rows",
    }
    assert "load average" in doc["note"]


def test_the_report_compares_the_largest_size_with_the_smallest_and_the_middle() -> None:
    def size(n: int, spa: float, rss: float) -> SizeResult:
        half = n // 2
        return SizeResult(n, 1 / spa, spa, rss, rss, 1.0, 0.1, 1.0, half, half - 1, 100 / half, 50.0, n)

    doc = scale.report(
        {1000: size(1000, 0.10, 200), 5000: size(5000, 0.11, 250), 20000: size(20000, 0.13, 340)},
        8.0,
        100_000,
    )
    targets = doc["targets"]
    assert isinstance(targets, dict)
    assert abs(targets["cost_per_asset_20000_vs_1000"]["value"] - 1.3) < 1e-9
    assert targets["cost_per_asset_20000_vs_1000"]["ok"] is False
    assert abs(targets["peak_rss_20000_vs_5000"]["value"] - 1.36) < 1e-9
    assert targets["plan_s_100000_rows"]["ok"] is True
