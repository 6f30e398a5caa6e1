"""The gallery's query: one campaign's assets, filtered, one page at a time (reads only).

Column filters and the QA filter are SQL on the ``(campaign, leaf_index)`` index with LIMIT/OFFSET
and a COUNT in the same transaction; the review filter (a state per group, decided by verified
signatures) selects the matching CIDs in log order first, then loads only the page's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal, get_args

from sqlalchemy import Select, exists, select
from sqlalchemy.sql.functions import count

from mintloom.api.studio.review_state import GroupState, ReviewState, cids_in_state
from mintloom.store.annotations import QARow
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Database

PAGE = 48
QAState = Literal["passed", "held", "none"]
QA_STATES: tuple[QAState, ...] = get_args(QAState)


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
    has_qa = exists().where(QARow.cid == AssetRow.cid)
    held = exists().where(QARow.cid == AssetRow.cid, QARow.held.is_(True))
    if f.qa == "none":
        conds.append(~has_qa)
    elif f.qa == "held":
        conds.append(held)
    elif f.qa == "passed":
        conds.append(has_qa & ~held)
    return conds


def page_query(campaign: str, f: GalleryFilters, page: int) -> Select[AssetRow]:
    """Page ``page`` of the column and QA filters, in log order, by LIMIT/OFFSET."""
    q = select(AssetRow).where(*_conditions(campaign, f)).order_by(AssetRow.leaf_index)  # type: ignore[arg-type]
    return q.limit(PAGE).offset((page - 1) * PAGE)


def gallery_page(
    db: Database, campaign: str, f: GalleryFilters, page: int, groups: Sequence[GroupState] = ()
) -> GalleryPage:
    """Page ``page`` (from 1) of the campaign's assets matching ``f``, in log order."""
    conds = _conditions(campaign, f)
    with db.session() as s:
        if f.review is None:
            total = s.scalar(select(count()).select_from(AssetRow).where(*conds)) or 0  # type: ignore[arg-type]
            rows = list(s.scalars(page_query(campaign, f, page)))
        else:
            wanted = cids_in_state(list(groups), f.review)
            ordered = s.scalars(select(AssetRow.cid).where(*conds).order_by(AssetRow.leaf_index))  # type: ignore[arg-type]
            matching = [c for c in ordered if c in wanted]
            total, chosen = len(matching), matching[(page - 1) * PAGE : page * PAGE]
            by_cid = {r.cid: r for r in s.scalars(select(AssetRow).where(AssetRow.cid.in_(chosen)))}
            rows = [by_cid[c] for c in chosen]
    return GalleryPage(total, page, max(1, -(-total // PAGE)), rows)


def filter_choices(db: Database, campaign: str) -> FilterChoices:
    """The distinct locales, segments, formats and kinds of the campaign's assets."""
    cols = (AssetRow.locale, AssetRow.segment, AssetRow.format, AssetRow.kind)
    with db.session() as s:
        values = [
            sorted(v for v in s.scalars(select(c).where(AssetRow.campaign == campaign).distinct()) if v)
            for c in cols
        ]
    return FilterChoices(*values)
