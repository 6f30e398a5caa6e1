"""Database engine, declarative base and transactional sessions.

Every subsystem declares its tables on :class:`Base` in its own module. store knows none of the
layers above it, so the caller names the schema to create (:mod:`mintloom.schema` collects every
subsystem's tables for a workspace). SQLite (default) runs in WAL mode with foreign keys on;
PostgreSQL works by URL. The schema is versioned by Alembic (:mod:`mintloom.store.migrate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from mintloom.errors import CatalogError


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@dataclass
class Database:
    engine: Engine
    _factory: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        SQLAlchemy errors are translated to :class:`CatalogError`, so a failed step never leaves
        half-written rows behind.
        """
        s = self._factory()
        try:
            yield s
            s.commit()
        except SQLAlchemyError as exc:
            s.rollback()
            raise CatalogError(f"catalog database error: {exc.__class__.__name__}: {exc}") from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, schema: MetaData | None, writable: bool = True) -> Database:
    """The database at ``url`` with ``schema`` at the head revision (``None``: touch nothing).

    Writable: an empty database is created, an older one migrated (a warning says so). Read-only
    (``writable=False``, for read paths): an older catalog is refused with
    :class:`~mintloom.errors.CatalogOutdatedError` rather than migrated; an empty one is still
    created (there is no data to lose, and verifying in a fresh workspace must work).
    ``schema`` has no default: a caller that forgot it would get a database without the tables of
    the modules it happened not to import.
    """
    from mintloom.store import migrate  # alembic: only when a schema is asked for

    try:
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        if schema is not None:
            where = engine_url_safe(url)
            if writable or not migrate.check_readable(engine, schema, where).current:
                migrate.ensure_head(engine, schema, where)
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot open catalog database {engine_url_safe(url)}: {exc}") from exc
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def engine_url_safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: show nothing secret
        return "<database url>"
