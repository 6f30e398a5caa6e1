"""Catalog schema migrations (Alembic), shipped in the package under ``store/migrations``.

A catalog records its schema revision in ``alembic_version``. Opening one for writing brings it to
the head revision (with a warning naming both revisions); opening one read-only never migrates: an
older catalog is refused with :class:`~mintloom.errors.CatalogOutdatedError` (run ``mintloom db
upgrade``). An empty database is created from the models at head (what the migrations also build,
as tests/store/test_migrations.py checks). A catalog made before migrations existed (0.1.0: tables
but no ``alembic_version``) holds the baseline schema and is stamped so before upgrading.

The migrations are plain DDL: they import no mintloom module, so store stays below the layers whose
tables they create; the caller hands in the metadata (``mintloom.schema.SCHEMA``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from mintloom.errors import CatalogOutdatedError, CatalogTooNewError
from mintloom.faults import crash_point

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
"""The schema of mintloom 0.1.0, the last release before migrations."""
VERSION_TABLE = "alembic_version"
_PG_LOCK = 0x6D696E746C6F6F6D  # "mintloom": one schema change at a time across processes

log = logging.getLogger("mintloom.store.migrate")  # mintloom.logs formats it; store imports no logs


@dataclass(frozen=True)
class SchemaState:
    """Where a catalog stands: its revision (``None``: unversioned), the head, and whether it has
    any table at all."""

    revision: str | None
    head: str
    empty: bool

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def known(self) -> bool:
        return self.revision is None or self.revision in _revisions()

    def describe(self) -> str:
        if self.empty:
            return f"empty (no catalog yet; head is {self.head})"
        at = self.revision or f"{BASELINE} (unversioned 0.1.0 catalog)"
        if self.current:
            return f"{at} (head, up to date)"
        if not self.known:
            return f"{at}: unknown to this mintloom (head {self.head}); a newer release migrated it"
        return f"{at}, behind head {self.head}: run `mintloom db upgrade`"


def alembic_config(connection: Connection | None = None, metadata: MetaData | None = None) -> Config:
    """An Alembic config on the packaged migrations, handing env.py its connection and metadata."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    cfg.attributes["target_metadata"] = metadata
    cfg.attributes["on_version_apply"] = _after_step
    return cfg


def _after_step(**_step: object) -> None:
    """Alembic's hook after each revision step: the crash suite's point between steps."""
    crash_point("migrate.step")


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


@cache
def _revisions() -> frozenset[str]:
    return frozenset(s.revision for s in _scripts().walk_revisions())


def head() -> str:
    found = _scripts().get_current_head()
    assert found is not None, "the packaged migrations have no head"
    return found


def state(conn: Connection, metadata: MetaData) -> SchemaState:
    """The catalog's schema state, read without writing anything."""
    tables = set(inspect(conn).get_table_names())
    revision = MigrationContext.configure(conn).get_current_revision() if VERSION_TABLE in tables else None
    empty = revision is None and not tables & set(metadata.tables)
    return SchemaState(revision, head(), empty)


def check_readable(engine: Engine, metadata: MetaData, where: str) -> SchemaState:
    """Refuse, by name, a catalog this read-only open cannot use as it is."""
    with engine.connect() as conn:
        found = state(conn, metadata)
    _refuse_unknown(found, where)
    if not found.current and not found.empty:
        raise CatalogOutdatedError(
            f"the catalog {where} has schema {found.revision or BASELINE + ' (unversioned)'}, older than "
            f"this mintloom's {found.head}; a read-only open does not migrate it",
            hint="run `mintloom db upgrade` in the workspace (back the catalog up first if you wish)",
        )
    return found


def ensure_head(engine: Engine, metadata: MetaData, where: str) -> tuple[SchemaState, SchemaState]:
    """Bring the catalog to head: create an empty one, stamp an unversioned one as the baseline,
    run the missing migrations. One process at a time (an advisory lock on PostgreSQL)."""
    with _locked(engine) as conn:
        before = state(conn, metadata)
        _refuse_unknown(before, where)
        if before.current:
            return before, before
        if before.empty:
            metadata.create_all(conn)
            command.stamp(alembic_config(conn, metadata), "head")
        else:
            cfg = alembic_config(conn, metadata)
            if before.revision is None:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, "head")
            log.warning(
                "catalog %s upgraded from schema %s to %s", where, before.revision or BASELINE, head()
            )
        return before, state(conn, metadata)


def _refuse_unknown(found: SchemaState, where: str) -> None:
    if not found.known:
        raise CatalogTooNewError(
            f"the catalog {where} has schema revision {found.revision}, unknown to this mintloom "
            f"(its newest is {found.head})",
            hint="a newer mintloom migrated this catalog: upgrade mintloom to open it",
        )


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        elif engine.dialect.name == "sqlite":
            # pysqlite opens no transaction before DDL, so each step's CREATE/ALTER would commit on
            # its own and a crash between steps would leave a half-migrated catalog: open one
            # explicitly (IMMEDIATE: the write lock at once, one schema change at a time)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
