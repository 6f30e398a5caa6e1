"""make bench-scale at a tiny size: the whole path runs (kill at half-way, resume, anchor,
publish, verify) and every number it reports is measured (timings are never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from mintloom.bench import scale
from mintloom.bench.scale import SizeResult


def test_scale_runs_kill_resume_anchor_publish_verify_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"figures": {"kept": {"value": 1.0, "unit": "x"}}}))  # make bench's
    scale.main(["--sizes", "24", "--plan-rows", "300", "--out", str(out)])
    whole = json.loads(out.read_text())
    assert whole["figures"] == {"kept": {"value": 1.0, "unit": "x"}}  # its own section only
    doc = whole["scale"]
    size = SizeResult(**doc["sizes"]["24"])
    assert size.assets == 24 and size.verified == 24  # every file of the resumed campaign verifies
    assert size.killed_after_jobs == 12 and 0 <= size.committed_at_kill <= 12
    assert size.rework_pct == 100 * (12 - size.committed_at_kill) / 12
    assert size.peak_rss_mb > 50 and size.catalog_mb > 0 and size.plan_s > 0 and size.resume_s > 0
    # the child's own peak (VmHWM), not the planning parent's carried over exec: run <= whole;
    # the work peak is reset after the keys' scrypt (128 MiB), so it lies below the whole peak
    assert 50 < size.run_peak_rss_mb <= size.peak_rss_mb
    assert 20 < size.work_peak_rss_mb < size.peak_rss_mb
    assert doc["errors"] == {} and doc["pending"] == []  # written after each size, complete here
    assert {n for n, f in doc["figures"].items() if "target" in f} == {
        "scale_cost_per_asset_24_vs_24",
        "scale_peak_rss_24_vs_24",
        "scale_resume_rework_pct_worst",
        "scale_plan_s_300_rows",
        "scale_wall_minutes",
    }
    assert size.cpu_s_per_asset > 0  # both runs' processes and workers, measured by rusage
    # every phase timed, in order; the whole wall clock is measured around them (not estimated)
    assert list(size.phase_s) == list(scale.PHASES)
    assert all(v >= 0 for v in size.phase_s.values())
    assert size.phase_s["run_to_kill"] > 0 and size.phase_s["resume"] > 0 and size.phase_s["verify"] > 0
    assert size.phase_s["anchor"] > 0 and size.phase_s["publish"] > 0 and size.phase_s["start"] > 0
    wall = doc["figures"]["scale_wall_minutes"]
    planning = doc["figures"]["scale_plan_s_300_rows"]["value"]
    assert wall["target"] == "<= 20" and wall["note"].startswith("measured: wall clock")
    assert wall["value"] * 60 >= planning + sum(size.phase_s.values())
    assert size.verify_files_per_s == size.assets / size.phase_s["verify"]
    assert doc["figures"]["scale_assets_per_s_24"]["value"] == round(size.assets_per_s, 6)
    assert "load average" in doc["note"]


def test_the_report_compares_the_largest_size_with_the_smallest_and_the_middle() -> None:
    def size(n: int, spa: float, rss: float) -> SizeResult:
        half = n // 2
        whole = rss + 128  # the key unlock's scrypt
        rework = 100 / half
        return SizeResult(n, 1 / spa, spa, whole, whole, rss, 1.0, 0.1, 1.0, half, half - 1, rework, 50.0, n)

    doc = scale.report(
        {1000: size(1000, 0.10, 200), 5000: size(5000, 0.11, 250), 20000: size(20000, 0.13, 340)},
        8.0,
        100_000,
        1500.0,
    )
    targets = doc["figures"]
    assert isinstance(targets, dict)
    assert abs(targets["scale_cost_per_asset_20000_vs_1000"]["value"] - 1.3) < 1e-6
    assert targets["scale_cost_per_asset_20000_vs_1000"]["ok"] is False
    # the work peak (after the key unlock), not the whole peak the KDF's 128 MB dominates
    assert abs(targets["scale_peak_rss_20000_vs_5000"]["value"] - 1.36) < 1e-6
    assert targets["scale_plan_s_100000_rows"]["ok"] is True
    assert targets["scale_wall_minutes"]["value"] == 25.0 and targets["scale_wall_minutes"]["ok"] is False
