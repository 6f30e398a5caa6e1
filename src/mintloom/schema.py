"""The workspace database schema: every subsystem's tables, gathered above the subsystems.

Tables are declared where they belong (catalog, annotations, API tokens and write locks in store,
log in provenance, journal, lineage and token metadata in ledger, the licence folder in governance,
the order book and Merkle listings in market), all on
:class:`mintloom.store.db.Base`. This module imports each of them so
:data:`SCHEMA` is complete before ``create_all`` runs; store itself never imports the layers above.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.exc import SQLAlchemyError

from mintloom.errors import CatalogError
from mintloom.governance import licence_metadata
from mintloom.ledger import datasets, journal, lineage, metadata
from mintloom.market import book
from mintloom.market import catalog as market_catalog
from mintloom.provenance import log
from mintloom.store import annotations as annotation_tables
from mintloom.store import catalog, locks, migrate, reviews, thumbnails, tokens, visibility
from mintloom.store.db import Base, Database, engine_url_safe, open_database
from mintloom.store.migrate import SchemaState

TABLE_MODULES = (
    catalog,
    annotation_tables,
    reviews,
    tokens,
    locks,
    log,
    journal,
    lineage,
    datasets,
    metadata,
    licence_metadata,
    book,
    market_catalog,
    thumbnails,
    visibility,
)
"""The modules that declare tables on :class:`Base` (importing them registers the tables)."""

SCHEMA: MetaData = Base.metadata


def open_workspace_database(url: str, *, writable: bool = True) -> Database:
    """The database at ``url`` with every mintloom table at the schema's head revision: created when
    empty, migrated when older (writable) or refused when older (read-only, see
    :func:`mintloom.store.db.open_database`)."""
    return open_database(url, schema=SCHEMA, writable=writable)


def schema_state(url: str) -> SchemaState:
    """Where the catalog at ``url`` stands against this mintloom's migrations (reads only)."""
    db = open_database(url, schema=None)
    try:
        with db.engine.connect() as conn:
            return migrate.state(conn, SCHEMA)
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot read the catalog schema of {engine_url_safe(url)}: {exc}") from exc
    finally:
        db.dispose()


def upgrade_database(url: str) -> tuple[SchemaState, SchemaState]:
    """Bring the catalog at ``url`` to the head revision; its state before and after."""
    db = open_database(url, schema=None)
    try:
        return migrate.ensure_head(db.engine, SCHEMA, engine_url_safe(url))
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot upgrade the catalog {engine_url_safe(url)}: {exc}") from exc
    finally:
        db.dispose()
