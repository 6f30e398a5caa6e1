"""The verify-DIR bench at a small size: a real anchored, published campaign folder verifies
offline and online through the bench's own path (rates are reported, never asserted)."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench.verify import folder_figures


def test_verify_dir_figures_are_made_over_a_real_anchored_folder(tmp_path: Path) -> None:
    figures = {f.name: f for f in folder_figures(tmp_path, segments=3)}
    assert set(figures) == {"verify_dir_files_per_s_offline", "verify_dir_files_per_s_online"}
    assert all(f.value > 0 and f.target == 50 for f in figures.values())
    assert "6 signed ads" in figures["verify_dir_files_per_s_online"].note
