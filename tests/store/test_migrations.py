"""Catalog schema migrations, on SQLite and PostgreSQL.

A catalog made by the previous release (the baseline revision, with or without its version row)
is upgraded with its data intact when opened to write, refused by name when opened read-only; the
models and the migrations' head agree, so a schema edit without its migration fails here.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, Table, create_engine, inspect, text

from mintloom.errors import CatalogOutdatedError, CatalogTooNewError
from mintloom.schema import SCHEMA, open_workspace_database, schema_state, upgrade_database
from mintloom.store.catalog import Catalog
from mintloom.store.migrate import BASELINE, alembic_config, head
from mintloom.workspace import Workspace

NOW = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    create: Callable[[], str] = request.getfixturevalue("new_pg_database")
    return create()


def _fill(conn: Connection) -> None:
    """A 0.1.0 catalog's rows: a campaign, two assets (one derived), a fingerprint, log leaves,
    inserted into its own tables (as reflected: today's models have columns it had not)."""
    baseline = MetaData()
    baseline.reflect(conn)
    t = baseline.tables
    conn.execute(t["campaigns"].insert(), [dict(name="winter", spec_hash="ab" * 32, salt=b"s" * 32,
                                                created_at=NOW, updated_at=NOW)])  # fmt: skip
    assets = [
        dict(cid=f"bafy{i}", content_cid=f"bafc{i}", campaign="winter", job_key=f"job{i}", kind="image",
             media_type="image/png", extension="png", sidecar_cid=None, manifest_hash=bytes([i]) * 32,
             leaf_index=i, segment="students", locale="en-US", format="square", width=64, height=64,
             engine="compositor", engine_version="1", model_id=None, seed=(1 << 62) + i, tags="{}",
             path=f"winter/{i}.png", created_at=NOW)
        for i in range(2)
    ]  # fmt: skip
    conn.execute(t["assets"].insert(), assets)
    conn.execute(t["lineage"].insert(), [dict(parent_cid="bafy0", child_cid="bafy1", relation="variant")])
    conn.execute(t["fingerprints"].insert(), [dict(cid="bafy0", phash=-5, dhash=7)])
    leaves = [
        dict(index=i, cid=f"bafy{i}", manifest_hash=bytes([i]) * 32, leaf_hash=bytes(32)) for i in range(2)
    ]
    conn.execute(t["log_leaves"].insert(), leaves)


def _previous_release(url: str, *, versioned: bool) -> None:
    """The catalog of the previous release: the baseline revision, filled; 0.1.0 itself made it
    with ``create_all`` and wrote no version row (``versioned=False``)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn, SCHEMA), BASELINE)
        if not versioned:
            conn.execute(text("DROP TABLE alembic_version"))
        _fill(conn)
    engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned-0.1.0", "at-baseline"])
def test_previous_release_catalog_is_upgraded_with_its_data(
    empty_url: str, versioned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    assert head() != BASELINE  # else there would be nothing to upgrade
    _previous_release(empty_url, versioned=versioned)
    caplog.set_level(logging.WARNING, logger="mintloom")
    db = open_workspace_database(empty_url)
    try:
        assert f"upgraded from schema {BASELINE} to {head()}" in caplog.text
        catalog = Catalog(db)
        assert [(a.cid, a.seed) for a in catalog.assets("winter")] == [
            ("bafy0", (1 << 62)),
            ("bafy1", (1 << 62) + 1),
        ]
        assert catalog.parents("bafy1") == [("bafy0", "variant")]
        assert catalog.fingerprints() == [("bafy0", (1 << 64) - 5, 7)]
        assert catalog.asset_page(kind="image", locale="en-US", limit=1, offset=1).rows[0].cid == "bafy1"
        indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("assets")}
        assert {"ix_assets_campaign_leaf", "ix_assets_kind_leaf"} <= indexes
        assert "ix_assets_campaign" not in indexes  # replaced by the composite
    finally:
        db.dispose()
    assert _revision(empty_url) == head() and schema_state(empty_url).current


def test_models_and_migration_head_agree(empty_url: str) -> None:
    """Autogenerate finds nothing between the migrations' head and the models: a table or index
    added to a model without its migration fails here (tools/new-migration.py writes it)."""
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn, SCHEMA), "head")
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SCHEMA)
            assert diff == []
            forgotten = MetaData()
            for table in SCHEMA.tables.values():
                table.to_metadata(forgotten)
            Table("nonces", forgotten, Column("id", Integer, primary_key=True))
            found = compare_metadata(MigrationContext.configure(conn), forgotten)
            assert [d[0] for d in found] == ["add_table"]  # the check does see a missing migration
    finally:
        engine.dispose()


def test_read_only_open_refuses_an_older_catalog_and_writes_nothing(empty_url: str) -> None:
    _previous_release(empty_url, versioned=False)
    with pytest.raises(CatalogOutdatedError, match="does not migrate") as info:
        open_workspace_database(empty_url, writable=False)
    assert info.value.hint is not None and "mintloom db upgrade" in info.value.hint
    engine = create_engine(empty_url)
    try:
        assert "alembic_version" not in inspect(engine).get_table_names()
        assert "ix_assets_campaign_leaf" not in {ix["name"] for ix in inspect(engine).get_indexes("assets")}
    finally:
        engine.dispose()
    before, after = upgrade_database(empty_url)  # what `mintloom db upgrade` runs
    assert before.revision is None and not before.empty and after.current
    open_workspace_database(empty_url, writable=False).dispose()  # now readable


def test_catalog_from_a_newer_release_is_refused(empty_url: str) -> None:
    open_workspace_database(empty_url).dispose()
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    for writable in (True, False):
        with pytest.raises(CatalogTooNewError, match="0999"):
            open_workspace_database(empty_url, writable=writable)
    assert _revision(empty_url) == "0999"


def test_concurrent_first_opens_on_postgresql(new_pg_database: Callable[[], str]) -> None:
    """Two processes' first open of one empty PostgreSQL catalog: one creates, the other waits."""
    url = new_pg_database()
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_workspace_database(url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert errors == [] and _revision(url) == head()


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MINTLOOM_WORKSPACE": str(ws),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "COLUMNS": "500",
    }
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], env=env, cwd=ws,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_db_commands_and_verify_on_an_older_catalog(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    _previous_release(ws.database_url(), versioned=False)
    current = _cli(ws.root, "db", "current")
    assert (
        current.returncode == 0
        and "behind head" in current.stdout
        and "mintloom db upgrade" in current.stdout
    )
    refused = _cli(ws.root, "verify", "--offline", str(tmp_path))
    assert refused.returncode == 10 and "CatalogOutdated" not in refused.stderr  # a message, no traceback
    assert "older than" in refused.stderr and "mintloom db upgrade" in refused.stderr
    assert _revision(ws.database_url()) is None  # verify wrote nothing
    upgraded = _cli(ws.root, "db", "upgrade")
    assert (
        upgraded.returncode == 0 and f"upgraded from schema 0001 (unversioned) to {head()}" in upgraded.stdout
    )
    again = _cli(ws.root, "db", "upgrade")
    assert "up to date" in again.stdout and _revision(ws.database_url()) == head()
    assert "(head, up to date)" in _cli(ws.root, "db", "current").stdout
