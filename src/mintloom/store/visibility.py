"""Which assets the public may see on their own page (``mintloom assets publicise CID``).

An asset is private unless marked: the public asset page (``/a/<cid>``) answers 404 for any other,
the same as for an unknown CID, so a page does not confirm that a private asset exists. Personalised
copy never becomes public: only images and audio may be marked.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import CatalogError, PrivateKindError
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Base, Database

PUBLIC_KINDS = frozenset({"image", "audio"})
"""Kinds that may be public: a ``copy`` asset is personalised text."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PublicAssetRow(Base):
    """An asset marked public, and when."""

    __tablename__ = "public_assets"
    cid: Mapped[str] = mapped_column(String(80), primary_key=True)
    marked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Visibility:
    """Mark, unmark and look up public assets."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def publicise(self, cid: str) -> AssetRow:
        """Mark ``cid`` public (idempotent); refuses unknown CIDs and personalised copy by name."""
        with self.db.session() as s:
            row = s.get(AssetRow, cid)
            if row is None:
                raise CatalogError(
                    f"no asset {cid} in this catalog", hint="list assets with `mintloom search`"
                )
            if row.kind not in PUBLIC_KINDS:
                raise PrivateKindError(
                    f"asset {cid} is {row.kind}: personalised content is never public",
                    hint="only images and audio can be publicised",
                )
            if s.get(PublicAssetRow, cid) is None:
                s.add(PublicAssetRow(cid=cid))
            return row

    def privatise(self, cid: str) -> bool:
        """Unmark ``cid``; whether it was public."""
        with self.db.session() as s:
            row = s.get(PublicAssetRow, cid)
            if row is not None:
                s.delete(row)
            return row is not None

    def public_asset(self, cid: str) -> AssetRow | None:
        """The asset if it is marked public (and still of a public kind), else None."""
        with self.db.session() as s:
            q = select(AssetRow).join(PublicAssetRow, PublicAssetRow.cid == AssetRow.cid)
            row = s.scalars(q.where(AssetRow.cid == cid)).first()
            return row if row is not None and row.kind in PUBLIC_KINDS else None

    def public_cids(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(PublicAssetRow.cid).order_by(PublicAssetRow.marked_at)))
