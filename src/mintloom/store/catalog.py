"""Catalog tables: campaigns, jobs, assets (with auto-tags and fingerprints) and lineage edges.

Rows are written by ``campaign.writer.CatalogWriter`` in one transaction per batch together with
the transparency-log leaves of the same assets, so the catalog never holds an asset that is not in
the log, nor a finished job without its asset.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import count

from mintloom.store.cid import RAW_CODEC, cid_from_digest, codec_of
from mintloom.store.db import Base, Database


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CampaignRow(Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    """Secret salt of the segment commitments in manifests; never leaves the catalog."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobRow(Base):
    __tablename__ = "jobs"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    format: Mapped[str | None] = mapped_column(String(64), nullable=True)
    asset_cid: Mapped[str] = mapped_column(String(80), index=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AssetRow(Base):
    __tablename__ = "assets"
    # listings filter by one column and page in log order (Catalog.asset_page, .assets): each
    # filter's index carries leaf_index, so a page is read in order without sorting the table
    __table_args__ = (
        Index("ix_assets_campaign_leaf", "campaign", "leaf_index"),
        Index("ix_assets_kind_leaf", "kind", "leaf_index"),
        Index("ix_assets_locale_leaf", "locale", "leaf_index"),
        # the studio gallery filters one campaign by a column and pages it in log order
        Index("ix_assets_campaign_locale_leaf", "campaign", "locale", "leaf_index"),
        Index("ix_assets_campaign_segment_leaf", "campaign", "segment", "leaf_index"),
        Index("ix_assets_campaign_format_leaf", "campaign", "format", "leaf_index"),
        Index("ix_assets_campaign_kind_leaf", "campaign", "kind", "leaf_index"),
        Index("ix_assets_campaign_qa_state_leaf", "campaign", "qa_state", "leaf_index"),
    )
    cid: Mapped[str] = mapped_column(String(80), primary_key=True)
    """CID of the file as distributed (with its embedded manifest)."""
    content_cid: Mapped[str] = mapped_column(String(80), index=True)
    """CID of the engine output before signing: identical for identical specs and seeds."""
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"))
    job_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(64))
    extension: Mapped[str] = mapped_column(String(8))
    sidecar_cid: Mapped[str | None] = mapped_column(String(80), nullable=True)
    manifest_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_index: Mapped[int] = mapped_column(BigInteger, index=True)
    segment: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    format: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    engine: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[str] = mapped_column(Text, default="{}")
    path: Mapped[str] = mapped_column(Text)
    """Readable export path relative to the workspace's out/ folder."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    qa_state: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    """Brand QA outcome, "passed", "held" or "none" (no report): a copy of the asset's QA row,
    written with it in one INSERT (``campaign.writer``) so the gallery filters it by index."""

    def tag_dict(self) -> dict[str, Any]:
        value = json.loads(self.tags)
        return value if isinstance(value, dict) else {}

    @property
    def logged_sidecar_cid(self) -> str | None:
        return logged_sidecar(self.sidecar_cid, self.manifest_hash)


def logged_sidecar(sidecar_cid: str | None, manifest_hash: bytes) -> str | None:
    """The sidecar the log names for an asset with a sidecar. Rows written now name it already,
    under whatever CID the blob store gave it (a UnixFS DAG CID above 256 KiB). Older versions
    stored sidecars as raw blocks and could name another job's manifest for duplicates in one
    batch: a raw CID whose digest is not the logged manifest hash is replaced by the raw CID of
    the logged one."""
    if sidecar_cid is None or codec_of(sidecar_cid) != RAW_CODEC:
        return sidecar_cid
    return cid_from_digest(bytes(manifest_hash))


class ExportRow(Base):
    """A file the campaign's latest run exported: its path under ``out/<campaign>/`` and the logged
    asset (and sidecar) it must hold. Written in the batch transaction of its job, so a rerun can
    restore a file lost to a crash, and ``mintloom verify DIR`` can report one that is missing."""

    __tablename__ = "exports"
    campaign: Mapped[str] = mapped_column(ForeignKey("campaigns.name"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), index=True)
    sidecar_cid: Mapped[str | None] = mapped_column(String(80), nullable=True)


class FingerprintRow(Base):
    """Perceptual fingerprints of an image asset: the image itself and its registration views."""

    __tablename__ = "fingerprints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), index=True)
    phash: Mapped[int] = mapped_column(BigInteger)
    """Unsigned 64-bit hashes are stored two's-complement in signed BIGINT columns."""
    dhash: Mapped[int] = mapped_column(BigInteger)


class LineageEdge(Base):
    __tablename__ = "lineage"
    __table_args__ = (Index("ix_lineage_child_cid", "child_cid"),)  # Catalog.parents: by child
    parent_cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    child_cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(32))


def to_signed64(value: int) -> int:
    """Store a 64-bit unsigned hash in a signed BIGINT column."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


@dataclass(frozen=True)
class AssetSlice:
    """One page of a filtered asset listing and how many assets match the filters in all."""

    total: int
    rows: list[AssetRow]


class JobFile(NamedTuple):
    """A finished job's asset as its export needs it."""

    cid: str
    extension: str
    sidecar_cid: str | None
    """the logged sidecar (:func:`logged_sidecar`)"""


FINGERPRINT_PAGE = 10_000
"""Fingerprint rows read at a time when the whole table is walked (verify's index)."""


class Catalog:
    """Read access to the catalog; every write goes through ``campaign.writer.CatalogWriter``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def asset(self, cid: str) -> AssetRow | None:
        with self.db.session() as s:
            return s.get(AssetRow, cid)

    def assets(self, campaign: str | None = None, *, kind: str | None = None) -> list[AssetRow]:
        with self.db.session() as s:
            q = select(AssetRow)
            if campaign is not None:
                q = q.where(AssetRow.campaign == campaign)
            if kind is not None:
                q = q.where(AssetRow.kind == kind)
            return list(s.scalars(q.order_by(AssetRow.leaf_index)))

    def iter_assets(
        self, campaign: str | None = None, *, below: int | None = None, page: int = 1000
    ) -> Iterator[AssetRow]:
        """Assets in log order (leaf index under ``below`` if given), read ``page`` at a time, each
        page in its own short transaction: a caller walking 20k assets holds one page of rows."""
        conds = [] if campaign is None else [AssetRow.campaign == campaign]
        if below is not None:
            conds.append(AssetRow.leaf_index < below)
        after = -1
        while True:
            with self.db.session() as s:
                q = select(AssetRow).where(AssetRow.leaf_index > after, *conds)
                rows = list(s.scalars(q.order_by(AssetRow.leaf_index).limit(page)))
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].leaf_index

    def asset_page(
        self,
        *,
        campaign: str | None = None,
        kind: str | None = None,
        locale: str | None = None,
        limit: int,
        offset: int = 0,
    ) -> AssetSlice:
        """Assets in log order matching every filter given, ``limit`` of them from ``offset``, with
        the count of all that match: read in one transaction, so the page and the total agree."""
        given = ((AssetRow.campaign, campaign), (AssetRow.kind, kind), (AssetRow.locale, locale))
        conds = [col == value for col, value in given if value is not None]
        with self.db.session() as s:
            total = s.scalar(select(count()).select_from(AssetRow).where(*conds)) or 0
            q = select(AssetRow).where(*conds).order_by(AssetRow.leaf_index).limit(limit).offset(offset)
            return AssetSlice(total, list(s.scalars(q)))

    def signed_text(self, content_cid: str) -> AssetRow | None:
        """The first logged asset that embeds its manifest in these exact unsigned bytes and ships
        it as a sidecar too (signed text): identical copy is one asset."""
        with self.db.session() as s:
            q = select(AssetRow).where(
                AssetRow.content_cid == content_cid,
                AssetRow.cid != content_cid,
                AssetRow.sidecar_cid.is_not(None),
            )
            return s.scalars(q.order_by(AssetRow.leaf_index).limit(1)).first()

    def parents(self, cid: str) -> list[tuple[str, str]]:
        with self.db.session() as s:
            rows = s.execute(
                select(LineageEdge.parent_cid, LineageEdge.relation).where(LineageEdge.child_cid == cid)
            )
            return [(p, r) for p, r in rows]

    def parents_of(self, cids: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """:meth:`parents` of many assets in one query (``verify DIR`` reads a folder's so)."""
        out: dict[str, list[tuple[str, str]]] = {c: [] for c in cids}
        if out:
            with self.db.session() as s:
                q = select(LineageEdge.child_cid, LineageEdge.parent_cid, LineageEdge.relation)
                for child, parent, relation in s.execute(q.where(LineageEdge.child_cid.in_(out))):
                    out[child].append((parent, relation))
        return out

    def assets_of(self, cids: Collection[str]) -> dict[str, AssetRow]:
        """The rows of those of ``cids`` that are assets, in one query."""
        if not cids:
            return {}
        with self.db.session() as s:
            return {r.cid: r for r in s.scalars(select(AssetRow).where(AssetRow.cid.in_(set(cids))))}

    def done_jobs(self, campaign: str) -> dict[str, str]:
        """job key → asset CID for the campaign's finished jobs."""
        with self.db.session() as s:
            rows = s.execute(select(JobRow.key, JobRow.asset_cid).where(JobRow.campaign == campaign))
            return {k: c for k, c in rows}

    def job_asset(self, key: str) -> AssetRow | None:
        """The asset a finished job made (a dynamic render's cache lookup), else None."""
        with self.db.session() as s:
            q = select(AssetRow).join(JobRow, AssetRow.cid == JobRow.asset_cid).where(JobRow.key == key)
            return s.scalar(q)

    def campaign(self, name: str) -> CampaignRow | None:
        with self.db.session() as s:
            return s.get(CampaignRow, name)

    def job_assets(self, campaign: str) -> dict[str, AssetRow]:
        """job key → asset for the campaign's finished jobs (the asset may belong to another
        campaign that made the same bytes first)."""
        with self.db.session() as s:
            rows = s.execute(
                select(JobRow.key, AssetRow)
                .join(AssetRow, AssetRow.cid == JobRow.asset_cid)
                .where(JobRow.campaign == campaign)
            )
            return {k: a for k, a in rows}

    def job_files(self, campaign: str) -> dict[str, JobFile]:
        """:meth:`job_assets` with only what restoring a job's files needs: three columns, not a
        full asset object (~2.5 KB each, 25 MB when resuming 10k finished jobs)."""
        with self.db.session() as s:
            rows = s.execute(
                select(
                    JobRow.key, AssetRow.cid, AssetRow.extension, AssetRow.sidecar_cid, AssetRow.manifest_hash
                )
                .join(AssetRow, AssetRow.cid == JobRow.asset_cid)
                .where(JobRow.campaign == campaign)
            )
            return {k: JobFile(c, ext, logged_sidecar(sc, mh)) for k, c, ext, sc, mh in rows}

    def exports(self, campaign: str | None = None) -> list[ExportRow]:
        """The files campaigns' latest runs exported (all campaigns, or one)."""
        with self.db.session() as s:
            q = select(ExportRow)
            if campaign is not None:
                q = q.where(ExportRow.campaign == campaign)
            return list(s.scalars(q.order_by(ExportRow.campaign, ExportRow.path)))

    def fingerprint_pages(self, page: int | None = None) -> Iterator[list[tuple[str, int, int]]]:
        """:meth:`fingerprints` streamed ``page`` rows at a time (one query, read as it goes): the
        whole table as tuples took ~2.5 KB per asset (11 rows each) while the index was built."""
        with self.db.session() as s:
            q = select(FingerprintRow.cid, FingerprintRow.phash, FingerprintRow.dhash)
            for part in s.execute(q.execution_options(yield_per=page or FINGERPRINT_PAGE)).partitions():
                yield [(c, from_signed64(p), from_signed64(d)) for c, p, d in part]

    def fingerprints(self) -> list[tuple[str, int, int]]:
        """(cid, phash, dhash) rows of every image asset, hashes as unsigned 64-bit ints."""
        with self.db.session() as s:
            rows = s.execute(select(FingerprintRow.cid, FingerprintRow.phash, FingerprintRow.dhash))
            return [(c, from_signed64(p), from_signed64(d)) for c, p, d in rows]
