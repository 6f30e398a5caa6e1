"""``/assets``: the catalog's public fields, the signed files, their sidecars and log receipts
(a token with the ``read`` scope: :mod:`~mintloom.api.auth`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from mintloom.api.auth import AUTH_RESPONSES, READ
from mintloom.api.deps import BlobsDep, CatalogDep, LogDep
from mintloom.api.errors import ERRORS, NotFoundError, PrivateContentError, parse_cid_param
from mintloom.api.limits import MAX_INDEX, MAX_PAGE
from mintloom.api.models import AssetDetail, AssetPage, ErrorOut, LineageParent, detail_of, summary_of
from mintloom.provenance.commitments import seed_commitment
from mintloom.provenance.log import Receipt
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow, Catalog

router = APIRouter(tags=["assets"], dependencies=[READ], responses=AUTH_RESPONSES)

CidPath = Annotated[str, Path(description="CIDv1 (base32, raw, sha2-256) of the asset")]

CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The file as distributed"},
    403: {"model": ErrorOut, "description": "Personalised copy: not served without authentication"},
    **ERRORS,
}
SIDECAR_RESPONSES = {k: v for k, v in CONTENT_RESPONSES.items() if k != 403}


@router.get("/assets", responses={422: ERRORS[422]})
def list_assets(
    catalog: CatalogDep,
    *,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=16, description="image, copy or audio")] = None,
    locale: Annotated[str | None, Query(max_length=35, description="BCP 47 tag, e.g. en-US")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> AssetPage:
    """Assets in log order, filtered and paginated. Public fields only: no audience segment (nor a
    filter by one, which would confirm a guessed name), no text, no path."""
    page = catalog.asset_page(campaign=campaign, kind=kind, locale=locale, limit=limit, offset=offset)
    items = [summary_of(r) for r in page.rows]
    return AssetPage(total=page.total, limit=limit, offset=offset, items=items)


@router.get("/assets/{cid}", responses=ERRORS)
def get_asset(cid: CidPath, catalog: CatalogDep) -> AssetDetail:
    """One asset with its lineage parents: public fields only (no segment, text or path)."""
    row = _asset(catalog, cid)
    parents = [LineageParent(cid=p, relation=r) for p, r in catalog.parents(row.cid)]
    campaign = catalog.campaign(row.campaign)
    commitment = None if campaign is None else seed_commitment(campaign.salt, row.seed)
    return detail_of(row, parents, commitment)


@router.get("/assets/{cid}/content", response_class=Response, responses=CONTENT_RESPONSES)
def get_content(cid: CidPath, catalog: CatalogDep, blobs: BlobsDep) -> Response:
    """The asset's bytes (with its embedded Content Credential), served with its media type.
    Images and audio only: a ``copy`` asset is personalised text (403 until clients authenticate)."""
    row = _asset(catalog, cid)
    if row.kind == "copy":
        raise PrivateContentError(
            f"asset {row.cid} is personalised copy, which this API does not serve",
            hint="read it in the workspace (out/ or `mintloom export`); its sidecar manifest is public",
        )
    return _blob(blobs, row.cid, row.media_type, f"{row.cid}.{row.extension}")


@router.get("/assets/{cid}/sidecar", response_class=Response, responses=SIDECAR_RESPONSES)
def get_sidecar(cid: CidPath, catalog: CatalogDep, blobs: BlobsDep) -> Response:
    """The asset's detached C2PA manifest, for formats that carry it beside the file."""
    row = _asset(catalog, cid)
    if row.sidecar_cid is None:
        raise NotFoundError(f"asset {row.cid} has no sidecar manifest")
    return _blob(blobs, row.sidecar_cid, "application/c2pa", f"{row.cid}.{row.extension}.c2pa")


@router.get("/assets/{cid}/receipt", tags=["log"], responses=ERRORS)
def get_receipt(cid: CidPath, log: LogDep) -> Receipt:
    """The asset's log receipt: leaf, inclusion proof, signed checkpoint and anchor if any."""
    c = parse_cid_param(cid)
    receipt = log.receipt(c)
    if receipt is None:
        raise NotFoundError(f"no receipt for {c}", hint="receipts are issued when the log is checkpointed")
    return receipt


def _asset(catalog: Catalog, raw: str) -> AssetRow:
    cid = parse_cid_param(raw)
    row = catalog.asset(cid)
    if row is None:
        raise NotFoundError(f"no asset {cid} in this catalog")
    return row


def _blob(blobs: BlobStore, cid: str, media_type: str, filename: str) -> Response:
    """A stored blob, cacheable forever (content-addressed)."""
    return Response(
        blobs.get(cid),
        media_type=media_type,
        headers={
            "ETag": f'"{cid}"',
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Disposition": f'inline; filename="{filename}"',
        },
    )
