"""The planning figure of ``make bench`` at a small size: it plans a fresh generated audience
through ``load_spec`` + ``plan_campaign`` and says so (timings are never asserted)."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench import SUITES
from mintloom.bench import plan as plan_bench


def test_the_plan_figure_plans_every_row_of_a_fresh_audience(tmp_path: Path) -> None:
    assert "plan" in SUITES
    (fig,) = plan_bench.run(tmp_path, rows=250)
    assert fig.name == "plan_s_250_rows" and fig.unit == "s" and fig.value > 0
    assert fig.target == 10.0 and fig.compare == "<="
    assert "250-row CSV audience" in fig.note and "load average" in fig.note
    audience = (tmp_path / "plan" / "audience.csv").read_text().splitlines()
    assert len(audience) == 251  # s10 repeats s9:
    assert audience[11].split(",")[1:] == audience[10].split(",")[1:]
