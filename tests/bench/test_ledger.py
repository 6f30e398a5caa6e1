"""The ledger benchmark at a small size on a real anvil: a fresh checkpoint and a growing log."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench.ledger import Sizes, measure


def test_fresh_and_incremental_anchor_gas(tmp_path: Path) -> None:
    figs = {f.name: f for f in measure(tmp_path, Sizes((100, 1_000)))}
    fresh = figs["anchor_gas_fresh_1000"].value
    assert 21_000 < fresh < 100_000  # one transaction; packed checkpoint storage (was ~116k)
    per = figs["anchor_gas_per_asset_fresh_1000"]
    assert per.value == fresh / 1_000 and per.target == 1.0 and "fresh" in per.note
    assert figs["anchor_gas_per_asset_1000"].value == figs["anchor_gas_1000"].value / 900
    assert figs["lazy_registration_gas"].value > 0
