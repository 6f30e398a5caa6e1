"""The studio gallery at 20k assets: page time of ``GET /studio/campaigns/{name}`` (HTML, logged in,
through the real app) over its filters and pages, and the query plans of the filter queries.

The catalog is filled in bulk through :class:`~mintloom.campaign.writer.CatalogWriter` (real log
leaves, asset and QA rows; no generation): ``ASSETS`` rows over 12 locales, 24 segments, 4 formats
and 2 kinds, a QA report on every image, one in 7 held. Each filter is read at its first, middle and
last page. Target: p99 ≤ 200 ms per page. The review-state filter is not timed: it depends on
signed review decisions, not on catalog indexes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.sql.functions import count

from mintloom.bench import Figure
from mintloom.bench.dynamic import _server
from mintloom.campaign.writer import BatchRows, CatalogWriter
from mintloom.store.annotations import QARow
from mintloom.store.catalog import AssetRow
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.store.gallery import PAGE, GalleryFilters, _conditions, page_query
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace

ASSETS = 20_000
CAMPAIGN = "bench"
TARGET_P99_MS = 200.0
LOCALES = (
    "en-US",
    "en-GB",
    "fr-FR",
    "de-DE",
    "es-ES",
    "it-IT",
    "ja-JP",
    "ko-KR",
    "ar-EG",
    "he-IL",
    "pt-BR",
    "nl-NL",
)
FORMATS = ("square", "story", "banner", "landscape")
FILTERS = (
    GalleryFilters(),
    GalleryFilters(locale="fr-FR"),
    GalleryFilters(segment="seg-07"),
    GalleryFilters(format="story"),
    GalleryFilters(kind="copy"),
    GalleryFilters(qa="held"),
    GalleryFilters(qa="passed"),
    GalleryFilters(locale="ar-EG", format="banner"),
)
BATCH = 2_000


@dataclass(frozen=True)
class Plan:
    """One filter's query plans (SQLite ``EXPLAIN QUERY PLAN``) and whether they use an index on
    the campaign and a filtered column, without a sort."""

    filters: GalleryFilters
    page: str
    count: str

    @property
    def indexed(self) -> bool:
        names = ("locale", "segment", "format", "kind", "qa")
        cols = [n.replace("qa", "qa_state") for n in names if getattr(self.filters, n) is not None]
        wanted = [f"campaign=? AND {c}=?" for c in cols] or ["campaign=?"]
        sorted_ = "TEMP B-TREE" in self.page
        return not sorted_ and all(any(w in text for w in wanted) for text in (self.page, self.count))


def fill(db: Database, studio: Studio, assets: int) -> None:
    """``assets`` catalog rows (and log leaves) of campaign ``CAMPAIGN`` in batches of ``BATCH``."""
    writer = CatalogWriter(db, studio.log)
    writer.ensure_campaign(CAMPAIGN, "0" * 64, b"\x01" * 32)
    for start in range(0, assets, BATCH):
        rows = [_row(i) for i in range(start, min(start + BATCH, assets))]
        with writer.batch() as tx:
            leaves = tx.append_leaves([(r.cid, r.manifest_hash) for r in rows], {})
            for r, leaf in zip(rows, leaves, strict=True):
                r.leaf_index = leaf
            qa = [QARow(cid=r.cid, campaign=CAMPAIGN, held=i % 7 == 0, report="{}")
                  for i, r in enumerate(rows) if r.kind == "image"]  # fmt: skip
            tx.add(BatchRows(assets=rows, qa=qa))


def _row(i: int) -> AssetRow:
    data = f"mintloom gallery bench asset {i}".encode()
    image = i % 5 != 0
    return AssetRow(
        cid=str(cid_for(data)), content_cid=str(cid_for(data + b"/content")), campaign=CAMPAIGN,
        job_key=hashlib.sha256(data).hexdigest(), kind="image" if image else "copy",
        media_type="image/png" if image else "text/plain", extension="png" if image else "txt",
        manifest_hash=hashlib.sha256(data + b"/manifest").digest(), leaf_index=0,
        segment=f"seg-{i % 24:02d}", locale=LOCALES[i % len(LOCALES)],
        format=FORMATS[(i // 3) % len(FORMATS)] if image else None, width=1080 if image else None,
        height=1080 if image else None, engine="bench", engine_version="1", seed=i, path=f"bench/{i}",
    )  # fmt: skip


def plans(db: Database) -> list[Plan]:
    """The page and count query plans of every timed filter (SQLite catalogs)."""
    out = []
    with db.engine.connect() as conn:
        for f in FILTERS:
            conds = _conditions(CAMPAIGN, f)
            total = select(count()).select_from(AssetRow).where(*conds)  # type: ignore[arg-type]
            texts = [_explain(conn, q) for q in (page_query(CAMPAIGN, f, 2), total)]
            out.append(Plan(f, *texts))
    return out


def _explain(conn: Connection, query: Select[Any]) -> str:
    """SQLite's plan of ``query`` with its parameters, its steps joined by " | "."""
    compiled = query.compile(dialect=conn.dialect)
    names = compiled.positiontup or []
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params[n] for n in names))
    return " | ".join(str(r[-1]) for r in rows)


def _log_in(client: httpx.Client, token: str) -> None:
    form = client.get("/studio/login").text
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    if match is None:
        raise RuntimeError("the studio's login form carries no CSRF token")
    done = client.post("/studio/login", data={"token": token, "csrf": match.group(1)})
    if done.status_code != 303:
        raise RuntimeError(f"studio login failed: {done.status_code} {done.text[:200]}")


def page_times(studio: Studio, rounds: int) -> list[float]:
    """Milliseconds per gallery page over loopback HTTP to `mintloom serve` in its own process,
    every filter at its first, middle and last page, ``rounds`` times."""
    token = TokenStore(studio.db).create("bench", ["read"])[1]
    urls = []
    for f in FILTERS:
        last = max(1, -(-_total(studio.db, f) // PAGE))
        urls += [
            f"/studio/campaigns/{CAMPAIGN}?{f.query_string()}&page={p}"
            for p in sorted({1, (last + 1) // 2, last})
        ]
    times: list[float] = []
    with _server(studio.workspace.root, {}) as base, httpx.Client(base_url=base, timeout=60) as client:
        _log_in(client, token)
        for url in itertools.chain.from_iterable(itertools.repeat(urls, rounds)):
            t0 = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200 or 'class="tile"' not in r.text:
                raise RuntimeError(f"gallery page {url} failed: {r.status_code} {r.text[:200]}")
    return times


def _total(db: Database, f: GalleryFilters) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AssetRow).where(*_conditions(CAMPAIGN, f))) or 0)  # type: ignore[arg-type]


def measure(work: Path, assets: int = ASSETS, rounds: int = 5) -> list[Figure]:
    studio = Studio(Workspace.init(work / "ws"))
    try:
        t0 = time.perf_counter()
        fill(studio.db, studio, assets)
        filled = time.perf_counter() - t0
        found = plans(studio.db)
        times = sorted(page_times(studio, rounds))
    finally:
        studio.close()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    size = f"{assets // 1000}k" if assets >= 1000 else str(assets)
    bad = [p.filters.query_string() or "(none)" for p in found if not p.indexed]
    note = f"{len(times)} pages, {len(FILTERS)} filters x first/middle/last page; filled in {filled:.1f}s"
    return [
        Figure(f"gallery_page_p50_ms_{size}", statistics.median(times), "ms", note=note),
        Figure(f"gallery_page_p99_ms_{size}", p99, "ms", TARGET_P99_MS, "<=", note),
        Figure(
            f"gallery_filters_indexed_{size}",
            len(found) - len(bad),
            "queries",
            len(found),
            ">=",
            "page and count plans search (campaign, column) indexes, no sort"
            + (f"; not indexed: {', '.join(bad)}" if bad else ""),
        ),
    ]


def run(work: Path) -> list[Figure]:
    return measure(work)
