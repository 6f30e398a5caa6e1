"""The dataset-ingest bench at a small size: its folder is ingested whole through the real path
(rates are reported, never asserted)."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench.ingest import ingest_figures


def test_ingest_figures_are_made_over_a_real_folder(tmp_path: Path) -> None:
    figures = {f.name: f for f in ingest_figures(tmp_path, files=1500)}
    assert set(figures) == {"dataset_ingest_files_per_s", "dataset_ingest_heap_bytes_per_file"}
    rate = figures["dataset_ingest_files_per_s"]
    assert rate.value > 0 and rate.target == 2000 and "1500 files" in rate.note
    assert 0 < figures["dataset_ingest_heap_bytes_per_file"].value < 10_000
