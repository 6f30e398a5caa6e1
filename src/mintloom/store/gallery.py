"""The studio's catalog reads: a campaign's assets filtered and paged, counts, lineage children.

Column filters and the QA filter (the asset row's ``qa_state``) are SQL on a ``(campaign,
column, leaf_index)`` index with LIMIT/OFFSET and a COUNT in the same transaction; a filter by
review state (decided above, by verified signatures) passes the CIDs it admits, and the page is
cut from the matching CIDs in log order. Filter choices are skip scans of the same indexes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Literal, get_args

from sqlalchemy import Select, TextClause, select, text
from sqlalchemy.sql.functions import count

from mintloom.store.annotations import QARow
from mintloom.store.catalog import AssetRow, CampaignRow, LineageEdge
from mintloom.store.db import Database

PAGE = 48
QAState = Literal["passed", "held", "none"]
QA_STATES: tuple[QAState, ...] = get_args(QAState)
ReviewState = Literal["approved", "rejected", "unreviewed", "stale", "forged"]
REVIEW_STATES: tuple[ReviewState, ...] = get_args(ReviewState)
CHOICE_COLUMNS = ("locale", "segment", "format", "kind")


@dataclass(frozen=True)
class GalleryFilters:
    """What the gallery shows: each field given narrows it (None: any)."""

    locale: str | None = None
    segment: str | None = None
    format: str | None = None
    kind: str | None = None
    qa: QAState | None = None
    review: ReviewState | None = None

    def query_string(self) -> str:
        """The filters as URL parameters (for pagination links)."""
        from urllib.parse import urlencode

        return urlencode({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)})


@dataclass(frozen=True)
class GalleryPage:
    total: int
    page: int
    pages: int
    rows: list[AssetRow]


@dataclass(frozen=True)
class FilterChoices:
    """The values each column filter can take in this campaign."""

    locale: list[str]
    segment: list[str]
    format: list[str]
    kind: list[str]


def _conditions(campaign: str, f: GalleryFilters) -> list[object]:
    conds: list[object] = [AssetRow.campaign == campaign]
    for col, value in ((AssetRow.locale, f.locale), (AssetRow.segment, f.segment),
                       (AssetRow.format, f.format), (AssetRow.kind, f.kind)):  # fmt: skip
        if value is not None:
            conds.append(col == value)
    if f.qa is not None:  # the asset row's copy of its QA outcome, on a (campaign, qa_state) index
        conds.append(AssetRow.qa_state == f.qa)
    return conds


def page_query(campaign: str, f: GalleryFilters, page: int) -> Select[AssetRow]:
    """Page ``page`` of the column and QA filters, in log order, by LIMIT/OFFSET."""
    q = select(AssetRow).where(*_conditions(campaign, f)).order_by(AssetRow.leaf_index)  # type: ignore[arg-type]
    return q.limit(PAGE).offset((page - 1) * PAGE)


def gallery_page(
    db: Database, campaign: str, f: GalleryFilters, page: int, reviewed: Collection[str] = ()
) -> GalleryPage:
    """Page ``page`` (from 1) of the campaign's assets matching ``f``, in log order; with
    ``f.review`` set, only those among ``reviewed`` (the CIDs of groups in that state)."""
    conds = _conditions(campaign, f)
    with db.session() as s:
        if f.review is None:
            total = s.scalar(select(count()).select_from(AssetRow).where(*conds)) or 0  # type: ignore[arg-type]
            rows = list(s.scalars(page_query(campaign, f, page)))
        else:
            wanted = set(reviewed)
            ordered = s.scalars(select(AssetRow.cid).where(*conds).order_by(AssetRow.leaf_index))  # type: ignore[arg-type]
            matching = [c for c in ordered if c in wanted]
            total, chosen = len(matching), matching[(page - 1) * PAGE : page * PAGE]
            by_cid = {r.cid: r for r in s.scalars(select(AssetRow).where(AssetRow.cid.in_(chosen)))}
            rows = [by_cid[c] for c in chosen]
    return GalleryPage(total, page, max(1, -(-total // PAGE)), rows)


def choices_query(column: str) -> TextClause:
    """Distinct non-null values of ``column`` in campaign ``:c`` by a skip scan: each value is one
    seek on the ``(campaign, column, leaf_index)`` index for the next larger one, so the cost grows
    with the number of values, not of assets (a DISTINCT read every index entry of the campaign)."""
    if column not in CHOICE_COLUMNS:
        raise ValueError(f"not a gallery filter column: {column!r}")
    nxt = f"SELECT MIN({column}) FROM assets WHERE campaign = :c AND {column} > v.x"
    return text(
        f"WITH RECURSIVE v(x) AS (SELECT MIN({column}) FROM assets WHERE campaign = :c "
        f"UNION ALL SELECT ({nxt}) FROM v WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
    )


def filter_choices(db: Database, campaign: str) -> FilterChoices:
    """The distinct locales, segments, formats and kinds of the campaign's assets."""
    with db.session() as s:
        values = [
            sorted(v for v in s.scalars(choices_query(c), {"c": campaign}) if v) for c in CHOICE_COLUMNS
        ]
    return FilterChoices(*values)


@dataclass(frozen=True)
class CampaignCounts:
    kinds: dict[str, int]
    qa_checked: int
    qa_held: int


def campaign_counts(db: Database) -> dict[str, CampaignCounts]:
    """Every campaign (name order) with its assets by kind and its QA results."""
    kinds: dict[str, dict[str, int]] = {}
    qa: dict[str, list[int]] = {}
    with db.session() as s:
        names = list(s.scalars(select(CampaignRow.name).order_by(CampaignRow.name)))
        by_kind = select(AssetRow.campaign, AssetRow.kind, count()).group_by(AssetRow.campaign, AssetRow.kind)
        for c, kind, n in s.execute(by_kind):
            kinds.setdefault(c, {})[kind] = n
        by_qa = select(QARow.campaign, QARow.held, count()).group_by(QARow.campaign, QARow.held)
        for c, held, n in s.execute(by_qa):
            pair = qa.setdefault(c, [0, 0])
            pair[0] += n
            pair[1] += n if held else 0
    return {n: CampaignCounts(kinds.get(n, {}), *qa.get(n, [0, 0])) for n in names}


def children(db: Database, cid: str) -> list[tuple[str, str]]:
    """(child CID, relation) of the assets derived from ``cid`` (the lineage table's primary key
    starts with the parent, so this is an index read)."""
    with db.session() as s:
        rows = s.execute(
            select(LineageEdge.child_cid, LineageEdge.relation).where(LineageEdge.parent_cid == cid)
        )
        return [(c, r) for c, r in rows]
