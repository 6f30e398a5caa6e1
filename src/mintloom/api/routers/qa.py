"""``/assets/{cid}/qa``, ``/assets/{cid}/tags`` and ``/search``: the brand QA report and tags.

Both need the ``read`` scope. Their fields are public ones all the same: a QA report holds
measurements and rule findings (no text), tags name colours, scripts, locales and formats, and
alt text of personalised ads is made from the template copy.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mintloom.api.auth import AUTH_RESPONSES, READ
from mintloom.api.deps import CatalogDep
from mintloom.api.errors import ERRORS, InvalidInputError, NotFoundError
from mintloom.api.models import AssetPage, summary_of
from mintloom.api.routers.assets import CidPath, _asset
from mintloom.errors import SearchQueryError
from mintloom.store.annotations import Annotations, parse_query

router = APIRouter(tags=["annotations"], dependencies=[READ], responses=AUTH_RESPONSES)


class QAOut(BaseModel):
    cid: str
    held: bool
    """Held by a blocking rule: not exported, not published."""
    report: dict[str, Any]


class TagsOut(BaseModel):
    cid: str
    tags: dict[str, list[str]]
    alt_text: dict[str, str]


@router.get("/assets/{cid}/qa", responses=ERRORS)
def get_qa(cid: CidPath, catalog: CatalogDep) -> QAOut:
    """The asset's brand QA report: every finding, the verdict and the measurements."""
    row = _asset(catalog, cid)
    qa = Annotations(catalog.db).qa(row.cid)
    if qa is None:
        raise NotFoundError(f"asset {row.cid} has no QA report", hint="only laid-out images are checked")
    return QAOut(cid=row.cid, held=qa.held, report=json.loads(qa.report))


@router.get("/assets/{cid}/tags", responses=ERRORS)
def get_tags(cid: CidPath, catalog: CatalogDep) -> TagsOut:
    """The asset's searchable tags and its alt text per locale."""
    row = _asset(catalog, cid)
    notes = Annotations(catalog.db)
    return TagsOut(cid=row.cid, tags=notes.tags(row.cid), alt_text=notes.alt_texts(row.cid))


@router.get("/search", responses={422: ERRORS[422]})
def search(
    catalog: CatalogDep,
    q: Annotated[str, Query(max_length=512, description="key:value terms, e.g. 'locale:ar-EG colour:navy'")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AssetPage:
    """Assets carrying every tag of the query, in log order (public fields only)."""
    try:
        terms = parse_query(q)
    except SearchQueryError as exc:
        raise InvalidInputError(exc.message, hint=exc.hint) from exc
    rows = Annotations(catalog.db).search(terms, limit=limit)
    return AssetPage(total=len(rows), limit=limit, offset=0, items=[summary_of(r) for r in rows])
