"""A run makes each batch durable with one flush to disk for its blobs and one for its exported
files, not an fsync per file (issue 14: two fsyncs per asset, ~10 ms each on a busy ext4, were the
slowest step of `make bench-scale`). The files it writes are still whole and match the log."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mintloom.bench.compare import audience_csv
from mintloom.bench.scale import spec_text
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.store import files
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_matches
from mintloom.studio import Studio


def count_flushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fsync and syncfs made through Python from now on (the real calls still happen)."""
    calls: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    real_syncfs = files._syncfs()

    def syncfs_factory() -> Callable[[int], int] | None:
        if real_syncfs is None:
            return None

        def syncfs(fd: int) -> int:
            calls.append("syncfs")
            return real_syncfs(fd)

        return syncfs

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(files, "_syncfs", syncfs_factory)
    return calls


def test_a_run_flushes_to_disk_per_batch_not_per_file(
    studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_sample_campaign(tmp_path, spec_text("durable"), audience_csv(12))
    runner = CampaignRunner(studio.run_parts(), load_spec(path), batch_size=8)
    calls = count_flushes(monkeypatch)
    summary = runner.run()
    assert summary.new_assets == 24
    # 3 batches: one flush for the blobs, one for the exports each (was 48: 2 fsyncs per asset)
    assert len(calls) <= 6, calls
    out = studio.workspace.out_dir / "durable"
    exports = Catalog(studio.db).exports("durable")
    assert len(exports) == 24 and not list(out.rglob("*.tmp"))
    for exp in exports:
        assert cid_matches(exp.cid, (out / exp.path).read_bytes())
        assert cid_matches(exp.cid, studio.blobs.get(exp.cid))


def test_a_rerun_restores_lost_files_with_one_flush_per_batch(
    studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_sample_campaign(tmp_path, spec_text("lost"), audience_csv(6))
    CampaignRunner(studio.run_parts(), load_spec(path), batch_size=8).run()
    out = studio.workspace.out_dir / "lost"
    for f in sorted(out.rglob("*.png"))[:10]:
        f.unlink()
    calls = count_flushes(monkeypatch)
    summary = CampaignRunner(studio.run_parts(), load_spec(path), batch_size=8).run()
    assert summary.restored == 10 and summary.new_assets == 0
    assert len(calls) <= 1, calls  # was 10
    for exp in Catalog(studio.db).exports("lost"):
        assert cid_matches(exp.cid, (out / exp.path).read_bytes())
