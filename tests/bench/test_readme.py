"""The README's benchmark table is generated from bench/results.json, never copied by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mintloom.bench.readme import END, START, main, number, table, update
from mintloom.errors import MintloomError

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_the_one_generated_from_results_json() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert update(readme, results) == readme, "run `python -m mintloom.bench.readme` after `make bench`"
    for name, fig in results["figures"].items():
        if "target" in fig:  # every figure with a target is in the table, with its value
            assert number(float(fig["value"])) in table(results), name


def test_a_hand_edited_value_is_caught(tmp_path: Path) -> None:
    results = {"machine": {"cores": 2}, "seconds": 1.0, "figures": {
        "compositor_vs_peer_ratio": {"value": 0.8123, "unit": "x", "target": "<= 1.0", "ok": True},
        "some_new_figure": {"value": 12345.6, "unit": "x", "target": ">= 10", "ok": True},
        "complete_asset_vs_peer_ratio": {"value": 1.5, "unit": "x", "target": "<= 1.3", "ok": False},
    }}  # fmt: skip
    (tmp_path / "r.json").write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\n{END}\ntail\n")
    args = ["--results", str(tmp_path / "r.json"), "--readme", str(readme)]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0 and main([*args, "--check"]) == 0
    text = readme.read_text()
    assert "| compositor / peer | 0.812× | ≤ 1.0 |" in text
    assert "| some new figure | 12,346 | ≥ 10 |" in text
    assert "≤ 1.3 (missed)" in text and text.endswith(f"{END}\ntail\n")
    readme.write_text(text.replace("0.812×", "0.700×"))
    assert main([*args, "--check"]) == 1


def test_a_readme_without_one_marked_section_is_refused() -> None:
    with pytest.raises(MintloomError):
        update("no markers", {"figures": {}})
    with pytest.raises(MintloomError):
        update(f"{END}{START}", {"figures": {}})


def test_bench_scales_own_section_is_in_the_table() -> None:
    results = {"machine": {"cores": 2}, "seconds": 1.0, "figures": {
        "compositor_vs_peer_ratio": {"value": 0.8123, "unit": "x", "target": "<= 1.0", "ok": True},
    }, "scale": {"figures": {
        "scale_assets_per_s_1000": {"value": 7.25, "unit": "assets/s"},
        "scale_assets_per_s_5000": {"value": 6.5, "unit": "assets/s"},
        "scale_cost_per_asset_5000_vs_1000": {"value": 1.115, "unit": "x", "target": "<= 1.2", "ok": True},
        "scale_resume_rework_pct_worst": {"value": 0.8, "unit": "%", "target": "<= 5", "ok": True},
    }}}  # fmt: skip
    text = table(results)
    assert "(killed at half, resumed, anchored, published, verified) | 7.25 / 6.50 |" in text
    assert "| scale cost per asset 5000 vs 1000 | 1.11 | ≤ 1.2 |" in text
    assert "| scale resume rework pct worst | 0.800 | ≤ 5 |" in text
