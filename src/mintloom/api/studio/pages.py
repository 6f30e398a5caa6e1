"""The studio's pages (GET): every one needs a login; a visitor is sent to ``/studio/login``.

They read the catalog, blobs, log and (unless the app is offline) the chain, and write nothing:
thumbnails are stored when assets are written (:mod:`mintloom.store.thumbnails`).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mintloom.api.deps import BlobsDep, CatalogDep, LogDep, SettingsDep, part
from mintloom.api.errors import InvalidInputError, NotFoundError, parse_cid_param
from mintloom.api.studio import chain_pages
from mintloom.api.studio.asset_view import asset_view, chain_facts, licence_words
from mintloom.api.studio.render import HERE, page
from mintloom.api.studio.review_state import cids_in_state, group_states
from mintloom.api.studio.session import PageUser
from mintloom.api.studio.summaries import campaign_summaries
from mintloom.provenance.log import Receipt
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.gallery import (
    QA_STATES,
    REVIEW_STATES,
    GalleryFilters,
    campaign_counts,
    filter_choices,
    gallery_page,
)
from mintloom.store.thumbnails import Thumbnails
from mintloom.studio import Studio

router = APIRouter(prefix="/studio", include_in_schema=False)
STATIC = {p.name: p for p in (HERE / "static").iterdir() if p.is_file()}
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
Text = Annotated[str | None, Query(max_length=64)]
T = TypeVar("T", bound=str)
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
"""An asset opened on its own (an SVG, say, from a contributor) runs no script on the studio's origin."""


def studio_of(request: Request) -> Studio:
    return part(request.app.state, "studio", Studio)


def anchor_pem(studio: Studio) -> str | None:
    return studio.keys.trust_anchor_pem() if studio.keys.exists() else None


@router.get("", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/studio/campaigns", status_code=303)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The studio's stylesheet and script (a fixed list: no path is taken from the request)."""
    path = STATIC.get(name)
    if path is None:
        raise NotFoundError(f"no studio file {name[:64]!r}")
    kind = STATIC_TYPES.get(path.suffix, "application/octet-stream")
    return Response(path.read_bytes(), media_type=kind, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(request: Request, user: PageUser) -> HTMLResponse:
    studio = studio_of(request)
    return page(request, user, "campaigns", campaigns=campaign_summaries(studio.db, anchor_pem(studio)))


@router.get("/campaigns/{name}", response_class=HTMLResponse)
def gallery(
    request: Request, name: str, user: PageUser, catalog: CatalogDep, *,
    locale: Text = None, segment: Text = None, format: Text = None, kind: Text = None,
    qa: Text = None, review: Text = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:  # fmt: skip
    """One campaign's assets as a paginated thumbnail grid, filtered."""
    studio = studio_of(request)
    if catalog.campaign(name) is None:
        raise NotFoundError(f"no campaign {name[:64]!r}", hint="see /studio/campaigns")
    f = GalleryFilters(locale or None, segment or None, format or None, kind or None,
                       _choice("qa", qa, QA_STATES), _choice("review", review, REVIEW_STATES))  # fmt: skip
    anchor = anchor_pem(studio)
    groups = group_states(studio.db, name, anchor) if f.review is not None and anchor else []
    reviewed = cids_in_state(groups, f.review) if f.review is not None else set()
    result = gallery_page(studio.db, name, f, page_no, reviewed)
    choices = filter_choices(studio.db, name)
    return page(request, user, "gallery", campaign=name, filters=f, result=result, choices=choices,
                qa_states=QA_STATES, review_states=REVIEW_STATES)  # fmt: skip


@router.get("/assets/{cid}", response_class=HTMLResponse)
def asset(
    request: Request, cid: str, user: PageUser, *, catalog: CatalogDep, blobs: BlobsDep, log: LogDep,
    settings: SettingsDep,
) -> HTMLResponse:  # fmt: skip
    """The file, its manifest as a tree, lineage, licence, royalty split, anchor, sales and owner."""
    studio = studio_of(request)
    row = _asset(catalog, cid)
    anchor = anchor_pem(studio)
    view = asset_view(studio.db, blobs, log, row, anchor)
    reader, why = chain_pages.reader(studio, settings.offline)
    facts = chain_facts(reader, studio.db, row, why, blobs=blobs, anchor=anchor)
    words = [licence_words(t) for t in facts.licence.terms] if facts.licence else []
    return page(request, user, "asset", view=view, facts=facts, licence_words=words)


@router.get("/assets/{cid}/file")
def asset_file(cid: str, _user: PageUser, catalog: CatalogDep, blobs: BlobsDep) -> Response:
    """The asset's bytes for a logged-in user (personalised copy included: never public)."""
    row = _asset(catalog, cid)
    return Response(blobs.get(row.cid), media_type=row.media_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Content-Disposition": f'inline; filename="{row.cid}.{row.extension}"',
    })  # fmt: skip


@router.get("/assets/{cid}/receipt")
def asset_receipt(cid: str, _user: PageUser, log: LogDep) -> Receipt:
    """The asset's log receipt for a logged-in user (the API's ``/assets/{cid}/receipt`` takes a
    bearer token, which a browser session does not send)."""
    receipt = log.receipt(parse_cid_param(cid))
    if receipt is None:
        raise NotFoundError(f"no receipt for {cid[:80]}", hint="receipts come with the log's checkpoints")
    return receipt


@router.get("/thumbs/{cid}")
def thumbnail(request: Request, cid: str, _user: PageUser, catalog: CatalogDep, blobs: BlobsDep) -> Response:
    """The asset's thumbnail: the one stored when it was written, else one scaled in memory (a
    read path never writes, so none is stored here)."""
    row = _asset(catalog, cid)
    thumb = Thumbnails(studio_of(request).db, blobs).read(row)
    if thumb is None:  # text, audio, vector or undecodable: the same small placeholder for all
        return static("placeholder.svg")
    return Response(thumb, media_type="image/jpeg", headers={
        "ETag": f'"{cid_for(thumb)}"', "Cache-Control": "private, max-age=31536000, immutable",
    })  # fmt: skip


@router.get("/review", response_class=HTMLResponse)
def review(request: Request, user: PageUser, catalog: CatalogDep) -> HTMLResponse:
    """Every campaign's review groups, their drawn samples and verified decisions."""
    studio = studio_of(request)
    anchor = anchor_pem(studio)
    names = list(campaign_counts(studio.db))
    queue = {n: group_states(studio.db, n, anchor) for n in names} if anchor else {}
    return page(request, user, "review", queue=queue, reviewer_ready=chain_pages.reviewer_configured())


@router.get("/royalties", response_class=HTMLResponse)
def royalties(request: Request, user: PageUser, settings: SettingsDep) -> HTMLResponse:
    """What each account of the campaigns' splits (and the workspace's own) can claim."""
    studio = studio_of(request)
    balances, error = chain_pages.balances(studio, settings.offline)
    return page(request, user, "royalties", balances=balances, error=error)


@router.get("/market", response_class=HTMLResponse)
def market(request: Request, user: PageUser, settings: SettingsDep) -> HTMLResponse:
    """Listings and sales, read-only."""
    view = chain_pages.market_view(request, settings.offline)
    return page(request, user, "market", market=view)


def _choice(name: str, raw: str | None, allowed: tuple[T, ...]) -> T | None:
    """A filter's value from the form: empty is "any", anything else must be one of ``allowed``."""
    if not raw:
        return None
    for value in allowed:
        if raw == value:
            return value
    raise InvalidInputError(f"{name} must be one of {', '.join(allowed)}, not {raw[:32]!r}")


def _asset(catalog: Catalog, raw: str) -> AssetRow:
    cid = parse_cid_param(raw)
    row = catalog.asset(cid)
    if row is None:
        raise NotFoundError(f"no asset {cid} in this catalog")
    return row
