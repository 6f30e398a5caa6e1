"""The catalog queries of the API listings, verify and publish use indexes at scale: on PostgreSQL
with 100k assets (and as many jobs, exports, lineage edges and token metadata rows, inserted in
bulk), EXPLAIN of every statement those reads send shows no sequential scan.

The statements are captured from the real read methods (not rewritten here), so a query changed
in the code is the query checked. Reads of whole tables by design (``Catalog.fingerprints`` for
near-duplicate search, the unfiltered asset count) are not in the list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from mintloom.ledger.metadata import published_metadata
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import Catalog
from mintloom.store.db import Database

pytestmark = pytest.mark.slow

N = 100_000
CAMPAIGNS = 200
BIG = {"assets", "jobs", "exports", "lineage", "token_metadata"}
"""The tables that grow with the assets (campaigns, 200 rows here, may be scanned)."""

_FILL = [
    f"INSERT INTO campaigns (name, spec_hash, salt, created_at, updated_at) "
    f"SELECT 'c' || g, repeat('a', 64), decode(repeat('00', 32), 'hex'), now(), now() "
    f"FROM generate_series(0, {CAMPAIGNS - 1}) g",
    f"INSERT INTO assets (cid, content_cid, campaign, job_key, kind, media_type, extension, sidecar_cid, "
    f"manifest_hash, leaf_index, segment, locale, format, width, height, engine, engine_version, seed, "
    f"tags, path, created_at) "
    f"SELECT 'bafy' || g, 'bafc' || g, 'c' || (g % {CAMPAIGNS}), 'j' || g, "
    f"(ARRAY['image','image','image','image','image','image','image','image','copy','audio'])[g % 10 + 1], "
    f"'image/png', 'png', CASE WHEN g % 10 = 8 THEN 'bafs' || g END, decode(repeat('00', 32), 'hex'), g, "
    f"'s' || (g % 7), 'l' || (g % 40), 'square', 64, 64, 'compositor', '1', g, '{{}}', 'p/' || g, now() "
    f"FROM generate_series(0, {N - 1}) g",
    f"INSERT INTO jobs (key, campaign, kind, asset_cid, finished_at) "
    f"SELECT 'j' || g, 'c' || (g % {CAMPAIGNS}), 'image', 'bafy' || g, now() "
    f"FROM generate_series(0, {N - 1}) g",
    f"INSERT INTO exports (campaign, path, cid) "
    f"SELECT 'c' || (g % {CAMPAIGNS}), 'p/' || g, 'bafy' || g FROM generate_series(0, {N - 1}) g",
    f"INSERT INTO lineage (parent_cid, child_cid, relation) "
    f"SELECT 'bafy' || g, 'bafy' || (g + 1), 'variant' FROM generate_series(0, {N - 2}) g",
    f"INSERT INTO token_metadata (chain_id, cid, metadata_cid, receipt_cid) "
    f"SELECT 31337, 'bafy' || g, 'bafm' || g, 'bafr' || g FROM generate_series(0, {N - 1}) g",
]


@pytest.fixture(scope="module")
def big(postgres_server: str) -> Iterator[Database]:
    from sqlalchemy import create_engine

    admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "mintloom_plans"'))
        conn.execute(text('CREATE DATABASE "mintloom_plans"'))
    admin.dispose()
    db = open_workspace_database(f"{postgres_server}/mintloom_plans")
    with db.engine.begin() as conn:
        for sql in _FILL:
            conn.execute(text(sql))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    yield db
    db.dispose()


@contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


READS: dict[str, Callable[[Database], object]] = {
    "api: assets of a campaign, page 3": lambda db: Catalog(db).asset_page(
        campaign="c7", limit=50, offset=100
    ),
    "api: assets of a kind, page 2": lambda db: Catalog(db).asset_page(kind="audio", limit=50, offset=50),
    "api: assets of a locale": lambda db: Catalog(db).asset_page(locale="l3", limit=50),
    "api: first page, no filter": lambda db: Catalog(db).asset_page(limit=50),
    "api: asset detail": lambda db: Catalog(db).asset("bafy4242"),
    "api: asset lineage parents": lambda db: Catalog(db).parents("bafy4242"),
    "publish/export: a campaign's assets": lambda db: Catalog(db).assets("c42"),
    "publish: token metadata of assets": lambda db: published_metadata(db, ["bafy1", "bafy99999"]),
    "verify: campaign's finished jobs": lambda db: Catalog(db).done_jobs("c42"),
    "verify: exports of a campaign folder": lambda db: Catalog(db).exports("c42"),
    "runner/verify: signed text by content": lambda db: Catalog(db).signed_text("bafc4248"),
    "runner: job assets of a campaign": lambda db: Catalog(db).job_assets("c42"),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_catalog_reads_use_indexes_at_100k_assets(big: Database, name: str) -> None:
    with _captured(big.engine) as seen:
        READS[name](big)
    checked = [(sql, params) for sql, params in seen if not _whole_table_count(sql)]
    assert checked, f"{name} sent no query"
    with big.engine.connect() as conn:
        for statement, params in checked:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
            scans = [line for line in plan.splitlines() if "Seq Scan on" in line]
            assert not [s for s in scans if s.split("Seq Scan on ")[1].split()[0] in BIG], (
                f"{name}:\n{statement}\n{plan}"
            )
            assert "Index" in plan, plan


def _whole_table_count(sql: str) -> bool:
    """The unfiltered listing's total: counting every row reads the table whatever the indexes."""
    flat = " ".join(sql.split()).lower()
    return flat.startswith("select count(*)") and " where " not in flat
