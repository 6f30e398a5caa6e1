"""Named write locks in the catalog, for writers that share it (several `mintloom run` processes,
or hosts on one PostgreSQL catalog): appending to the transparency log, allocating an account's
nonces, anchoring. A lock lasts as long as the catalog transaction that takes it."""

from __future__ import annotations

from sqlalchemy import String, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from mintloom.store.db import Base


class LockRow(Base):
    """One row per named lock; PostgreSQL locks the row (``SELECT … FOR UPDATE``)."""

    __tablename__ = "write_locks"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)


def hold(s: Session, name: str) -> None:
    """Hold the lock ``name`` until ``s``'s transaction ends, so concurrent writers take turns: a
    row lock on PostgreSQL; on SQLite the database's write lock (``BEGIN IMMEDIATE``, unless the
    transaction already wrote, which holds it already). Take it before reading what the write
    depends on."""
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        if not s.connection().connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            s.execute(text("BEGIN IMMEDIATE"))
        return
    if dialect == "postgresql":
        s.execute(pg_insert(LockRow).values(name=name).on_conflict_do_nothing())
    elif s.get(LockRow, name) is None:
        s.add(LockRow(name=name))
        s.flush()
    s.execute(select(LockRow.name).where(LockRow.name == name).with_for_update())
