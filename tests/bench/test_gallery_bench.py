"""The gallery benchmark at a small size: real catalog rows, real `mintloom serve`, real plans."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from mintloom.bench import SUITES
from mintloom.bench.gallery import CAMPAIGN, FILTERS, TARGET_P99_MS, fill, measure, plans
from mintloom.store.annotations import QARow
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.gallery import CHOICE_COLUMNS, GalleryFilters, choices_query, filter_choices, gallery_page
from mintloom.studio import Studio
from mintloom.workspace import Workspace


def test_every_gallery_filter_searches_an_index_on_campaign_and_column(tmp_path: Path) -> None:
    studio = Studio(Workspace.init(tmp_path / "ws"))
    try:
        fill(studio.db, studio, 600)
        assert len(Catalog(studio.db).assets("bench")) == 600
        found = plans(studio.db)
    finally:
        studio.close()
    assert [p.filters for p in found] == list(FILTERS)
    for p in found:  # a filter read through an index on another column scans the whole campaign
        assert p.indexed, (p.filters, p.page, p.count)
        assert "TEMP B-TREE" not in p.page  # pages come in log order straight from the index
    by_query = {p.filters.query_string(): p for p in found}
    assert "(campaign=? AND format=?)" in by_query["format=story"].page
    assert "(campaign=? AND segment=?)" in by_query["segment=seg-07"].count
    for qa in ("qa=held", "qa=passed"):  # was a correlated EXISTS over qa_reports for every asset
        assert "ix_assets_campaign_qa_state_leaf (campaign=? AND qa_state=?)" in by_query[qa].page
        assert "COVERING INDEX ix_assets_campaign_qa_state_leaf" in by_query[qa].count
        assert "qa_reports" not in by_query[qa].page + by_query[qa].count


def test_qa_state_is_written_with_the_qa_rows_and_filters_like_them(tmp_path: Path) -> None:
    studio = Studio(Workspace.init(tmp_path / "ws"))
    try:
        fill(studio.db, studio, 140)  # every 5th asset is copy (no QA report), one image in 7 held
        with studio.db.session() as s:
            reports = {q.cid: q.held for q in s.scalars(select(QARow))}
            order = list(s.scalars(select(AssetRow.cid).order_by(AssetRow.leaf_index)))
        expect = {
            "held": [c for c in order if reports.get(c) is True],
            "passed": [c for c in order if reports.get(c) is False],
            "none": [c for c in order if c not in reports],
        }
        assert all(expect.values()) and sum(map(len, expect.values())) == 140
        for state, cids in expect.items():
            got: list[str] = []
            for page in (1, 2, 3):
                result = gallery_page(studio.db, CAMPAIGN, GalleryFilters(qa=state), page)  # type: ignore[arg-type]
                assert result.total == len(cids)
                got += [r.cid for r in result.rows]
            assert got == cids, state
    finally:
        studio.close()


def test_filter_choices_seek_the_index_once_per_value(tmp_path: Path) -> None:
    studio = Studio(Workspace.init(tmp_path / "ws"))
    try:
        fill(studio.db, studio, 300)
        choices = filter_choices(studio.db, CAMPAIGN)
        with studio.db.engine.connect() as conn:
            plans_ = {
                c: " | ".join(
                    str(r[-1])
                    for r in conn.execute(text(f"EXPLAIN QUERY PLAN {choices_query(c)}"), {"c": CAMPAIGN})
                )
                for c in CHOICE_COLUMNS
            }
            distinct = {
                c: sorted(
                    v
                    for v in conn.scalars(
                        select(getattr(AssetRow, c)).where(AssetRow.campaign == CAMPAIGN).distinct()
                    )
                    if v
                )
                for c in CHOICE_COLUMNS
            }
        assert filter_choices(studio.db, "no-such-campaign").locale == []
    finally:
        studio.close()
    assert [getattr(choices, c) for c in CHOICE_COLUMNS] == [distinct[c] for c in CHOICE_COLUMNS]
    assert len(choices.locale) == 12 and len(choices.segment) == 24 and choices.kind == ["copy", "image"]
    for c, plan in plans_.items():  # no SCAN of the campaign, no sort: seeks on (campaign, column)
        assert f"COVERING INDEX ix_assets_campaign_{c}_leaf (campaign=? AND {c}>?)" in plan, plan
        assert "TEMP B-TREE" not in plan and "SCAN assets" not in plan, plan
    with pytest.raises(ValueError, match="not a gallery filter column"):
        choices_query("cid; DROP TABLE assets")


def test_gallery_pages_are_timed_over_http_with_a_p99_target(tmp_path: Path) -> None:
    figs = {f.name: f for f in measure(tmp_path, assets=300, rounds=1)}
    p50, p99 = figs["gallery_page_p50_ms_300"], figs["gallery_page_p99_ms_300"]
    assert p99.target == TARGET_P99_MS and p99.compare == "<="
    assert 0 < p50.value <= p99.value
    assert str(len(FILTERS)) in p99.note
    indexed = figs["gallery_filters_indexed_300"]
    assert indexed.value == indexed.target == len(FILTERS) and indexed.ok
    assert "gallery" in SUITES
