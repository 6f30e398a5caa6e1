"""The public pages: ``/`` and ``GET /verify`` (drop a file, see the verdict), ``/a/<cid>`` (an asset
marked public) and its file ``/a/<cid>/file``, and their static files. No login; nothing here writes.

The verify page posts the file to ``POST /verify`` (:mod:`~mintloom.api.routers.verify`, the same
function as ``mintloom verify``) and renders its report with the CLI's words for each verdict. Its
script builds the result with ``textContent`` only: a file's name and a foreign credential's signer
are the uploader's text, never markup. An asset page shows public fields only (no segment, no
personalised text) and answers 404 for an asset not marked public, as for an unknown one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from mintloom.api.deps import BlobsDep, SettingsDep, part
from mintloom.api.errors import NotFoundError, parse_cid_param
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.visibility import Visibility
from mintloom.verify.report import VERDICT_MEANING

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
STATIC: dict[str, str] = {"verify.js": "text/javascript", "public.css": "text/css"}
"""The static files served, by name (an allow-list: no path from the request reaches the disk)."""

router = APIRouter(tags=["pages"])


def get_visibility(request: Request) -> Visibility:
    return Visibility(part(request.app.state, "catalog", Catalog).db)


VisibilityDep = Annotated[Visibility, Depends(get_visibility)]


@router.get("/", name="verify_page", response_class=HTMLResponse)
@router.get("/verify", name="verify_page_alias", response_class=HTMLResponse)
def verify_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The drop-a-file verify page."""
    meanings = {str(v): m for v, m in VERDICT_MEANING.items()}
    context = {"meanings": meanings, "max_mb": settings.max_upload_bytes // (1024 * 1024)}
    return templates.TemplateResponse(request, "public/verify.html", context)


@router.get("/a/{cid}", name="public_asset", response_class=HTMLResponse)
def public_asset(request: Request, cid: str, visibility: VisibilityDep) -> HTMLResponse:
    """The page of an asset marked public (404 otherwise, like an unknown CID)."""
    row = _public_row(visibility, cid)
    return templates.TemplateResponse(request, "public/asset.html", {"asset": _public_fields(row)})


def _public_row(visibility: Visibility, cid: str) -> AssetRow:
    row = visibility.public_asset(parse_cid_param(cid))
    if row is None:
        raise NotFoundError(f"no public asset {cid}", hint="an asset's owner can publicise it")
    return row


@router.get("/a/{cid}/file", name="public_file", response_class=Response)
def public_file(cid: str, visibility: VisibilityDep, blobs: BlobsDep) -> Response:
    """The file of an asset marked public (the read API's ``/assets/{cid}/content`` needs a token)."""
    row = _public_row(visibility, cid)
    return Response(blobs.get(row.cid), media_type=row.media_type, headers={
        "ETag": f'"{row.cid}"', "Cache-Control": "public, max-age=86400",
        "Content-Disposition": f'inline; filename="{row.cid}.{row.extension}"',
    })  # fmt: skip


@router.get("/public/static/{name}", name="public_static")
def public_static(name: str) -> FileResponse:
    """One of :data:`STATIC`, cacheable for a day."""
    if name not in STATIC:
        raise NotFoundError(f"no static file {name}")
    headers = {"Cache-Control": "public, max-age=86400"}
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers=headers)


def _public_fields(row: AssetRow) -> dict[str, object]:
    """The fields an asset page may show: never the segment, tags, seed or path."""
    return {
        "cid": row.cid,
        "kind": row.kind,
        "locale": row.locale or "",
        "format": row.format or "",
        "media_type": row.media_type,
        "is_image": row.kind == "image",
        "log_index": row.leaf_index,
    }
