"""The catalog writer sends one INSERT per table and batch, whatever the batch's size (issue 14:
the ORM's unit of work sent one INSERT per fingerprint row, 11 per image, so 20k assets meant
220k statements)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from mintloom.bench.compare import audience_csv
from mintloom.bench.scale import spec_text
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.store.catalog import AssetRow, FingerprintRow, JobRow
from mintloom.studio import Studio


def _inserts(studio: Studio, tmp_path: Path, name: str, rows: int) -> Counter[str]:
    """Statements sent per table by a run of ``rows`` audience rows, all in one batch per phase."""
    path = write_sample_campaign(tmp_path / name, spec_text(name), audience_csv(rows))
    sent: Counter[str] = Counter()

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO"):
            sent[statement.split()[2]] += 1

    event.listen(studio.db.engine, "before_cursor_execute", count)
    try:
        CampaignRunner(studio.run_parts(), load_spec(path), batch_size=1000).run()
    finally:
        event.remove(studio.db.engine, "before_cursor_execute", count)
    return sent


def test_a_batch_is_written_in_a_constant_number_of_statements(studio: Studio, tmp_path: Path) -> None:
    small = _inserts(studio, tmp_path, "small", 3)
    large = _inserts(studio, tmp_path, "large", 15)
    assert small["fingerprints"] >= 1 and small["assets"] >= 1
    assert large == small  # 5x the assets, the same statements (the old writer: 66 vs 330 fingerprints)
    with studio.db.session() as s:
        images = s.scalar(select(func.count()).select_from(AssetRow).where(AssetRow.kind == "image"))
        prints = s.scalar(select(func.count()).select_from(FingerprintRow))
        jobs = s.scalar(select(func.count()).select_from(JobRow))
        stamped = s.scalar(select(func.count()).select_from(JobRow).where(JobRow.finished_at.is_not(None)))
    assert images == 36 and prints == 11 * images  # every row is there, defaults still applied
    assert jobs == stamped == 36
