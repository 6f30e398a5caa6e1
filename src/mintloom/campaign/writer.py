"""The one writer of the catalog and the transparency log.

A campaign run writes through :class:`CatalogWriter` only: the campaign row, the exports a run
restores, and per batch the assets, their fingerprints, thumbnails and lineage edges, the finished
jobs, their exports and the log leaves, in one database transaction. So the catalog never holds an
asset that is not in the log, nor a finished job without its asset; ``Catalog`` only reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mintloom.errors import CatalogError
from mintloom.provenance.log import LOG_LOCK, TransparencyLog
from mintloom.store.annotations import AltTextRow, QARow, TagRow
from mintloom.store.catalog import (
    AssetRow,
    CampaignRow,
    ExportRow,
    FingerprintRow,
    JobRow,
    LineageEdge,
    logged_sidecar,
)
from mintloom.store.db import Base, Database
from mintloom.store.locks import hold
from mintloom.store.thumbnails import ThumbnailRow


@dataclass
class BatchRows:
    """The catalog rows of one batch (log leaves are appended separately, in the same transaction)."""

    assets: list[AssetRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    edges: list[LineageEdge] = field(default_factory=list)
    fingerprints: list[FingerprintRow] = field(default_factory=list)
    exports: list[ExportRow] = field(default_factory=list)
    qa: list[QARow] = field(default_factory=list)
    tags: list[TagRow] = field(default_factory=list)
    alt_texts: list[AltTextRow] = field(default_factory=list)


class BatchTransaction:
    """One open batch: read what is already catalogued, append leaves, add rows; all or nothing."""

    def __init__(self, session: Session, log: TransparencyLog) -> None:
        self._s = session
        self._log = log

    def logged_sidecars(self, cids: Collection[str]) -> dict[str, str | None]:
        """CID → logged sidecar CID of those ``cids`` already catalogued (identical bytes made before)."""
        rows = self._s.execute(
            select(AssetRow.cid, AssetRow.sidecar_cid, AssetRow.manifest_hash).where(AssetRow.cid.in_(cids))
        )
        return {c: logged_sidecar(sc, mh) for c, sc, mh in rows}

    def finished(self, keys: Collection[str]) -> set[str]:
        """Those job ``keys`` already finished (another process committed them first)."""
        return set(self._s.scalars(select(JobRow.key).where(JobRow.key.in_(keys))))

    def held(self, cids: Collection[str]) -> set[str]:
        """Those ``cids`` already catalogued as held by a blocking QA rule."""
        return set(self._s.scalars(select(QARow.cid).where(QARow.cid.in_(cids), QARow.held)))

    def append_leaves(self, entries: Sequence[tuple[str, bytes]], parents: Mapping[str, str]) -> list[int]:
        """Log (CID, manifest hash) entries in this transaction; returns their leaf indices."""
        return self._log.append_batch(entries, session=self._s, parents=parents)

    def add_thumbnails(self, rows: Sequence[ThumbnailRow]) -> None:
        """The gallery thumbnails of catalogued assets (made with them: a reader never stores one),
        except those an asset already has and those of bytes this batch did not catalogue (a job
        another process finished first: its render signed other bytes, which have no asset row)."""
        if not rows:
            return
        cids = [r.cid for r in rows]
        have = set(self._s.scalars(select(ThumbnailRow.cid).where(ThumbnailRow.cid.in_(cids))))
        assets = set(self._s.scalars(select(AssetRow.cid).where(AssetRow.cid.in_(cids))))
        _insert_all(self._s, [r for r in rows if r.cid in assets and r.cid not in have])

    def add(self, rows: BatchRows) -> None:
        """Add the batch's rows, one multi-row INSERT per table whatever the batch size (the ORM's
        unit of work sent one INSERT per fingerprint, 11 per image); a path's new export replaces
        the old one. Assets go first: every other row refers to one."""
        s = self._s
        states = {q.cid: "held" if q.held else "passed" for q in rows.qa}
        for a in rows.assets:  # the gallery filters QA state on the asset row's index
            a.qa_state = states.get(a.cid, "none")
        try:
            _insert_all(s, rows.assets)
            for group in (rows.fingerprints, rows.qa, rows.tags, rows.alt_texts, rows.edges, rows.jobs):
                _insert_all(s, group)
            for campaign in {e.campaign for e in rows.exports}:
                paths = [e.path for e in rows.exports if e.campaign == campaign]
                s.execute(delete(ExportRow).where(ExportRow.campaign == campaign, ExportRow.path.in_(paths)))
            _insert_all(s, rows.exports)
        except SQLAlchemyError as exc:
            raise CatalogError(f"cannot write {len(rows.assets)} assets to the catalog: {exc}") from exc


def _insert_all(s: Session, rows: Sequence[Base]) -> None:
    """INSERT ``rows`` (of one model) in one executemany, without reading generated keys back.
    Only the attributes set on a row are sent, so column defaults (times, ``tags``) still apply."""
    if not rows:
        return
    mapper = inspect(type(rows[0]))
    keys = [a.key for a in mapper.column_attrs]
    values = [{k: row.__dict__[k] for k in keys if k in row.__dict__} for row in rows]
    s.execute(insert(mapper), values)


class CatalogWriter:
    """Writes the catalog and the log of one database (see the module docstring)."""

    def __init__(self, db: Database, log: TransparencyLog) -> None:
        self.db = db
        self.log = log

    @contextmanager
    def batch(self) -> Iterator[BatchTransaction]:
        """One transaction for a batch's rows and leaves; on failure the log forgets the leaves
        that were rolled back with the rows."""
        try:
            with self.db.session() as s:
                hold(s, LOG_LOCK)  # first: another run's batch commits before this one reads the catalog
                yield BatchTransaction(s, self.log)
        except BaseException:
            self.log.reload()
            raise

    def ensure_campaign(self, name: str, spec_hash: str, salt: bytes) -> None:
        """Create the campaign row, or record the spec a new run uses (the salt never changes)."""
        with self.db.session() as s:
            row = s.get(CampaignRow, name)
            if row is None:
                s.add(CampaignRow(name=name, spec_hash=spec_hash, salt=salt))
            else:
                row.spec_hash = spec_hash
                row.updated_at = dt.datetime.now(dt.UTC)

    def set_exports(self, campaign: str, rows: list[ExportRow]) -> None:
        """Replace a campaign's exports (a new run's plan may drop files an older spec made)."""
        with self.db.session() as s:
            s.execute(delete(ExportRow).where(ExportRow.campaign == campaign))
            s.add_all(rows)
