"""Catalog tables for what is said *about* an asset: its brand QA report, its tags and alt texts.

Written by the runner in the same batch transaction as the asset (``campaign.writer``); read by
``mintloom qa``, ``mintloom search``, ``verify --json`` and the API. The tables are created like
every other (``create_all`` of :mod:`mintloom.schema`); once the Alembic migrations land they
need a migration of their own.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Boolean, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import SearchQueryError
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Base, Database

TAG_KEYS = frozenset(
    {
        "campaign",
        "kind",
        "engine",
        "model",
        "locale",
        "lang",
        "script",
        "direction",
        "format",
        "aspect",
        "colour",
    }
)
_ALIASES = {"color": "colour", "language": "lang"}
MAX_TERMS = 16


def parse_query(query: str) -> list[tuple[str, str]]:
    """``'locale:ar-EG colour:navy'`` → ``[('locale', 'ar-eg'), ('colour', 'navy')]`` (every term
    must match); an unknown key or a bare word is refused by name."""
    terms: list[tuple[str, str]] = []
    for word in query.split():
        key, sep, value = word.partition(":")
        key = _ALIASES.get(key.lower(), key.lower())
        if not sep or not value or key not in TAG_KEYS:
            raise SearchQueryError(
                f"search term {word[:64]!r} is not key:value with a known key",
                hint=f"keys: {', '.join(sorted(TAG_KEYS))} (e.g. 'locale:ar-EG colour:navy')",
            )
        terms.append((key, value.lower()[:128]))
    if not terms or len(terms) > MAX_TERMS:
        raise SearchQueryError(f"a search takes 1 to {MAX_TERMS} key:value terms, got {len(terms)}")
    return terms


class QARow(Base):
    """One image asset's QA report (JSON of ``campaign.qa.QAReport``)."""

    __tablename__ = "qa_reports"
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    held: Mapped[bool] = mapped_column(Boolean, index=True)
    report: Mapped[str] = mapped_column(Text)


class TagRow(Base):
    """One searchable ``key:value`` tag of an asset (``colour:navy``, ``locale:ar-EG`` …)."""

    __tablename__ = "asset_tags"
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class AltTextRow(Base):
    """An asset's alt text in one locale."""

    __tablename__ = "alt_texts"
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(35), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class Annotations:
    """Reads QA reports, tags and alt texts (never writes)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def qa(self, cid: str) -> QARow | None:
        with self.db.session() as s:
            return s.get(QARow, cid)

    def qa_reports(self, campaign: str) -> list[tuple[AssetRow, QARow]]:
        """The campaign's assets with a QA report, in log order."""
        with self.db.session() as s:
            rows = s.execute(
                select(AssetRow, QARow)
                .join(QARow, QARow.cid == AssetRow.cid)
                .where(AssetRow.campaign == campaign)
                .order_by(AssetRow.leaf_index)
            )
            return [(a, q) for a, q in rows]

    def held(self, campaign: str) -> set[str]:
        """CIDs of the campaign's assets held by a blocking QA rule."""
        with self.db.session() as s:
            return set(s.scalars(select(QARow.cid).where(QARow.campaign == campaign, QARow.held)))

    def tags(self, cid: str) -> dict[str, list[str]]:
        with self.db.session() as s:
            out: dict[str, list[str]] = {}
            for key, value in s.execute(
                select(TagRow.key, TagRow.value).where(TagRow.cid == cid).order_by(TagRow.key, TagRow.value)
            ):
                out.setdefault(key, []).append(value)
            return out

    def qa_of(self, cids: Collection[str]) -> dict[str, QARow]:
        """:meth:`qa` of many assets in one query (those with a report)."""
        if not cids:
            return {}
        with self.db.session() as s:
            return {r.cid: r for r in s.scalars(select(QARow).where(QARow.cid.in_(set(cids))))}

    def tags_of(self, cids: Collection[str]) -> dict[str, dict[str, list[str]]]:
        """:meth:`tags` of many assets in one query (every CID asked maps to its tags, maybe none)."""
        out: dict[str, dict[str, list[str]]] = {c: {} for c in cids}
        if out:
            with self.db.session() as s:
                q = select(TagRow.cid, TagRow.key, TagRow.value).where(TagRow.cid.in_(out))
                for cid, key, value in s.execute(q.order_by(TagRow.cid, TagRow.key, TagRow.value)):
                    out[cid].setdefault(key, []).append(value)
        return out

    def alt_texts(self, cid: str) -> dict[str, str]:
        with self.db.session() as s:
            rows = s.execute(select(AltTextRow.locale, AltTextRow.text).where(AltTextRow.cid == cid))
            return {loc: text for loc, text in rows}

    def search(self, terms: list[tuple[str, str]], limit: int = 100) -> list[AssetRow]:
        """Assets carrying every ``(key, value)`` tag (values compared case-insensitively)."""
        with self.db.session() as s:
            query = select(AssetRow)
            for key, value in terms:
                match = select(TagRow.cid).where(TagRow.key == key, TagRow.value == value.lower())
                query = query.where(AssetRow.cid.in_(match))
            return list(s.scalars(query.order_by(AssetRow.leaf_index).limit(limit)))
