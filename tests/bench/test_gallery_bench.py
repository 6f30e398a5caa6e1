"""The gallery benchmark at a small size: real catalog rows, real `mintloom serve`, real plans."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench import SUITES
from mintloom.bench.gallery import FILTERS, TARGET_P99_MS, fill, measure, plans
from mintloom.store.catalog import Catalog
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


def test_gallery_pages_are_timed_over_http_with_a_p99_target(tmp_path: Path) -> None:
    figs = {f.name: f for f in measure(tmp_path, assets=300, rounds=1)}
    p50, p99 = figs["gallery_page_p50_ms_300"], figs["gallery_page_p99_ms_300"]
    assert p99.target == TARGET_P99_MS and p99.compare == "<="
    assert 0 < p50.value <= p99.value
    assert str(len(FILTERS)) in p99.note
    indexed = figs["gallery_filters_indexed_300"]
    assert indexed.value == indexed.target == len(FILTERS) and indexed.ok
    assert "gallery" in SUITES
