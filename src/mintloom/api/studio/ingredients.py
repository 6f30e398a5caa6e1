"""``GET /studio/assets/{cid}/ingredients/{n}/thumb``: the thumbnail an asset's C2PA ingredient carries,
copied out of its manifest in memory and re-encoded (:mod:`mintloom.provenance.ingredient_thumbs`).
A GET that writes nothing: no cache table, the bytes come from the asset's own blob each time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from mintloom.api.deps import BlobsDep, CatalogDep
from mintloom.api.errors import NotFoundError, parse_cid_param
from mintloom.api.studio.session import PageUser
from mintloom.provenance.ingredient_thumbs import ingredient_thumbnail

router = APIRouter(prefix="/studio", include_in_schema=False)
MAX_INGREDIENTS = 1000
"""Ingredient indices beyond this are refused before the manifest is read."""


@router.get("/assets/{cid}/ingredients/{index}/thumb")
def ingredient_thumb(
    cid: str,
    index: Annotated[int, Path(ge=0, lt=MAX_INGREDIENTS)],
    _user: PageUser,
    catalog: CatalogDep,
    blobs: BlobsDep,
) -> Response:
    """Ingredient ``index``'s thumbnail as a JPEG; 404 when it has none within the bounds."""
    parsed = parse_cid_param(cid)
    row = catalog.asset(parsed)
    if row is None:
        raise NotFoundError(f"no asset {parsed} in this catalog")
    thumb = ingredient_thumbnail(blobs.get(row.cid), row.media_type, index)
    if thumb is None:
        raise NotFoundError(f"ingredient {index} of {parsed} carries no thumbnail mintloom can show")
    return Response(thumb, media_type="image/jpeg", headers={
        "Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff",
    })  # fmt: skip
