"""The workspace database schema: every subsystem's tables, gathered above the subsystems.

Tables are declared where they belong (catalog and API tokens in store, log in provenance, journal,
lineage and token metadata in ledger, the licence folder in governance, the order book in market), all on
:class:`mintloom.store.db.Base`. This module imports each of them so
:data:`SCHEMA` is complete before ``create_all`` runs; store itself never imports the layers above.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from mintloom.governance import licence_metadata
from mintloom.ledger import journal, lineage, metadata
from mintloom.market import book
from mintloom.provenance import log
from mintloom.store import catalog, tokens
from mintloom.store.db import Base, Database, open_database

TABLE_MODULES = (catalog, tokens, log, journal, lineage, metadata, licence_metadata, book)
"""The modules that declare tables on :class:`Base` (importing them registers the tables)."""

SCHEMA: MetaData = Base.metadata


def open_workspace_database(url: str) -> Database:
    """The database at ``url`` with every mintloom table (the missing ones are created)."""
    return open_database(url, schema=SCHEMA)
