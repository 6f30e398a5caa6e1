"""SIGKILL mid-migration: ``mintloom db upgrade`` on a catalog at the previous revisions, killed
after each migration step (the ``migrate.step`` crash point), leaves the catalog at a revision whose
schema it really has (never half-migrated), and a rerun upgrades it cleanly with its data intact;
on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from mintloom.faults import ENV_CRASH_AT
from mintloom.schema import SCHEMA
from mintloom.store.catalog import Catalog
from mintloom.store.db import open_database
from mintloom.store.migrate import BASELINE, alembic_config, head
from mintloom.workspace import Workspace
from tests.store.test_migrations import _fill, _revision

STEPS = len(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())) - 1
"""Revisions after the baseline: the steps ``db upgrade`` runs on a previous-release catalog."""


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes empty databases of the parameter's kind."""
    if request.param == "sqlite":
        names = iter(range(1_000))
        return lambda: f"sqlite:///{tmp_path / f'catalog-{next(names)}.db'}"
    create: Callable[[], str] = request.getfixturevalue("new_pg_database")
    return create


def _at_baseline(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn, SCHEMA), BASELINE)
        _fill(conn)
    engine.dispose()


def _upgrade(ws: Path, url: str, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_DATABASE_URL": url,
           "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "500"}  # fmt: skip
    env.pop(ENV_CRASH_AT, None)
    if crash_at is not None:
        env[ENV_CRASH_AT] = crash_at
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", "db", "upgrade"], env=env, cwd=ws,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def _shape(url: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Every table with its columns and indexes: what a migration step changes."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return [
            (
                table,
                tuple(sorted(c["name"] for c in found.get_columns(table))),
                tuple(sorted(str(ix["name"]) for ix in found.get_indexes(table))),
            )
            for table in sorted(found.get_table_names())
        ]
    finally:
        engine.dispose()


def _reference(url: str, revision: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The shape of the empty database at ``url`` migrated to ``revision``."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn, SCHEMA), revision)
    engine.dispose()
    return _shape(url)


@pytest.mark.parametrize("step", range(1, STEPS + 1))
def test_sigkill_between_migration_steps_leaves_no_half_migrated_catalog(
    fresh: Callable[[], str], tmp_path: Path, step: int
) -> None:
    url = fresh()
    assert STEPS >= 2, "the crash test needs at least two steps after the baseline"
    ws = Workspace.init(tmp_path / "ws").root
    _at_baseline(url)
    killed = _upgrade(ws, url, f"migrate.step:{step}")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    revision = _revision(url)
    assert revision is not None
    # the catalog has exactly the tables of the revision it records: nothing of a later step
    assert _shape(url) == _reference(fresh(), revision)
    rerun = _upgrade(ws, url, None)
    assert rerun.returncode == 0, rerun.stderr
    assert _revision(url) == head()
    assert _shape(url) == _reference(fresh(), head())
    db = open_database(url, schema=SCHEMA)
    try:
        assert [a.cid for a in Catalog(db).assets("winter")] == ["bafy0", "bafy1"]
    finally:
        db.dispose()
