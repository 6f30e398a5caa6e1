"""Catalog tables of human-on-the-loop review: drawn samples, signed decisions, regeneration rounds.

A campaign's *groups* are its exported assets by template × locale × format family (the brand
image in one aspect family, one copy template, the sound logo). Segment names and export paths
never enter a group name: they come from the audience. The signed record itself is built
one layer up (provenance) and decisions are written by governance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Iterable
from pathlib import PurePosixPath

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.store.annotations import TagRow
from mintloom.store.catalog import AssetRow, ExportRow
from mintloom.store.db import Base, Database


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReviewSampleRow(Base):
    """The sample last drawn for a group: what the reviewer sees and signs over."""

    __tablename__ = "review_samples"
    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    round: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    sample: Mapped[str] = mapped_column(Text)
    """JSON list of the sampled CIDs, in sample order."""
    members: Mapped[str] = mapped_column(String(64))
    """:func:`members_digest` of the whole group when the sample was drawn."""
    drawn_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewDecisionRow(Base):
    """A signed approval or rejection (canonical JSON payload, raw signature, reviewer chain)."""

    __tablename__ = "review_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    group_id: Mapped[str] = mapped_column(String(200), index=True)
    decision: Mapped[str] = mapped_column(String(8))
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    certificate: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewRoundRow(Base):
    """How often a design (template × locale) was rejected: the planner reseeds by it."""

    __tablename__ = "review_rounds"
    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    design: Mapped[str] = mapped_column(String(160), primary_key=True)
    round: Mapped[int] = mapped_column(Integer)


def members_digest(cids: Iterable[str]) -> str:
    """SHA-256 over the sorted, distinct CIDs of a group: changes when any asset does."""
    return hashlib.sha256("\n".join(sorted(set(cids))).encode()).hexdigest()


def template_of(kind: str, path: str) -> str:
    """``image``, ``audio`` or ``copy.<template name>`` (the name is the export file's stem)."""
    return f"copy.{PurePosixPath(path).stem}" if kind == "copy" else kind


def design_of(group_id: str) -> str:
    """``template/locale`` of a group id ``campaign/template/locale/family``."""
    return "/".join(group_id.split("/")[1:3])


def group_id(campaign: str, kind: str, path: str, locale: str | None, aspect: str | None) -> str:
    family = {"copy": "text", "audio": "audio"}.get(kind, aspect or kind)
    return f"{campaign}/{template_of(kind, path)}/{locale or '-'}/{family}"


class Reviews:
    """Reads review state (never writes)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def groups(self, campaign: str) -> dict[str, list[str]]:
        """Group id → the sorted CIDs of the campaign's current exports in it (held assets have none)."""
        with self.db.session() as s:
            rows = s.execute(
                select(ExportRow.path, AssetRow.cid, AssetRow.kind, AssetRow.locale)
                .join(AssetRow, AssetRow.cid == ExportRow.cid)
                .where(ExportRow.campaign == campaign)
            ).all()
            aspects = dict(
                s.execute(
                    select(TagRow.cid, TagRow.value).where(
                        TagRow.key == "aspect", TagRow.cid.in_({r.cid for r in rows})
                    )
                ).all()
            )
        out: dict[str, set[str]] = {}
        for path, cid, kind, locale in rows:
            out.setdefault(group_id(campaign, kind, path, locale, aspects.get(cid)), set()).add(cid)
        return {g: sorted(c) for g, c in sorted(out.items())}

    def group_of(self, cid: str) -> tuple[str, str] | None:
        """(campaign, group id) of an exported asset, else None."""
        with self.db.session() as s:
            row = s.execute(
                select(ExportRow.campaign, ExportRow.path, AssetRow.kind, AssetRow.locale)
                .join(AssetRow, AssetRow.cid == ExportRow.cid)
                .where(ExportRow.cid == cid)
                .order_by(ExportRow.campaign, ExportRow.path)  # the first export, as groups_of takes
                .limit(1)
            ).first()
            q = select(TagRow.value).where(TagRow.cid == cid, TagRow.key == "aspect")
            aspect = s.scalar(q.order_by(TagRow.value))
        if row is None:
            return None
        return row.campaign, group_id(row.campaign, row.kind, row.path, row.locale, aspect)

    def groups_of(self, cids: Collection[str]) -> dict[str, tuple[str, str]]:
        """:meth:`group_of` of many assets in two queries (the exported ones)."""
        if not cids:
            return {}
        wanted = set(cids)
        with self.db.session() as s:
            rows = s.execute(
                select(ExportRow.cid, ExportRow.campaign, ExportRow.path, AssetRow.kind, AssetRow.locale)
                .join(AssetRow, AssetRow.cid == ExportRow.cid)
                .where(ExportRow.cid.in_(wanted))
                .order_by(ExportRow.cid, ExportRow.campaign, ExportRow.path)
            ).all()
            q = select(TagRow.cid, TagRow.value).where(TagRow.key == "aspect", TagRow.cid.in_(wanted))
            aspects: dict[str, str] = {}
            for cid, value in s.execute(q.order_by(TagRow.cid, TagRow.value)):
                aspects.setdefault(cid, value)
        out: dict[str, tuple[str, str]] = {}
        for r in rows:
            if r.cid not in out:
                out[r.cid] = r.campaign, group_id(r.campaign, r.kind, r.path, r.locale, aspects.get(r.cid))
        return out

    def sample(self, campaign: str, group: str) -> ReviewSampleRow | None:
        with self.db.session() as s:
            return s.get(ReviewSampleRow, (campaign, group))

    def sample_cids(self, row: ReviewSampleRow) -> list[str]:
        value = json.loads(row.sample)
        return [str(c) for c in value] if isinstance(value, list) else []

    def latest(self, campaign: str, group: str) -> ReviewDecisionRow | None:
        """The group's last recorded decision."""
        with self.db.session() as s:
            q = select(ReviewDecisionRow).where(
                ReviewDecisionRow.campaign == campaign, ReviewDecisionRow.group_id == group
            )
            return s.scalars(q.order_by(ReviewDecisionRow.id.desc()).limit(1)).first()

    def rounds(self, campaign: str) -> dict[str, int]:
        """Design (``template/locale``) → regeneration round (absent: 0)."""
        with self.db.session() as s:
            rows = s.execute(
                select(ReviewRoundRow.design, ReviewRoundRow.round).where(ReviewRoundRow.campaign == campaign)
            )
            return {d: r for d, r in rows}
