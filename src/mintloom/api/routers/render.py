"""``POST /campaigns/{campaign}/render`` (scope render) and its signed-URL ``GET`` form: the creative
for the live variables, with its C2PA credential embedded, its CID and log index in headers. It is
logged before the response is sent (:mod:`mintloom.campaign.dynamic`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from mintloom.api.auth import require_scope
from mintloom.api.deps import part
from mintloom.api.errors import ERRORS
from mintloom.api.models import ErrorOut
from mintloom.api.render import RenderService
from mintloom.dynamic import RenderResult
from mintloom.faults import crash_point
from mintloom.store.tokens import TokenInfo

router = APIRouter(tags=["render"])

IMMUTABLE = "private, max-age=31536000, immutable"
"""A render's bytes never change for its inputs; private: the URL carries live variables."""

RESPONSES: dict[int | str, dict[str, object]] = {
    **ERRORS,
    200: {
        "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
        "description": "The signed creative",
    },
    401: {"model": ErrorOut, "description": "No, unknown or revoked token"},
    403: {"model": ErrorOut, "description": "The token lacks the render scope, or the URL's signature fails"},
    429: {"model": ErrorOut, "description": "Rate limit: retry after Retry-After seconds"},
    503: {"model": ErrorOut, "description": "No key password, or the chain is down"},
}


def get_render(request: Request) -> RenderService:
    return part(request.app.state, "render", RenderService)


RenderDep = Annotated[RenderService, Depends(get_render)]


@router.post("/campaigns/{campaign}/render", response_class=Response, responses=RESPONSES)
def render(
    campaign: str,
    service: RenderDep,
    token: Annotated[TokenInfo, Depends(require_scope("render"))],
    variables: Annotated[dict[str, Any], Body(description="The live variables, by name")],
    fmt: Annotated[str | None, Query(alias="format", max_length=64)] = None,
) -> Response:
    """Render (or serve the cached) creative of ``campaign`` for these variables."""
    return _response(service.render(campaign, f"token:{token.name}", variables, fmt))


@router.get("/campaigns/{campaign}/render", response_class=Response, responses=RESPONSES)
def render_signed(campaign: str, request: Request, service: RenderDep) -> Response:
    """The same, for a URL signed by `mintloom render-url` (``exp`` and ``sig`` in the query)."""
    return _response(service.render_url(campaign, list(request.query_params.multi_items())))


def _response(result: RenderResult) -> Response:
    """The bytes and where the log has them; a fallback says why and is never cached."""
    headers = {
        "X-Mintloom-CID": result.cid,
        "X-Mintloom-Log-Index": str(result.log_index),
        "X-Mintloom-Cache": "hit" if result.cached else "miss",
        "Cache-Control": IMMUTABLE,
    }
    if result.stages:
        headers["Server-Timing"] = ", ".join(f"{n};dur={s * 1000:.1f}" for n, s in result.stages)
    if result.failed is not None:
        headers["X-Mintloom-Fallback"] = type(result.failed).__name__
        # a header is Latin-1: a QA reason's "ΔE00" is sent escaped (\u0394E00), not as a 500
        headers["X-Mintloom-Error"] = result.failed.message.encode("ascii", "backslashreplace").decode()
        headers["Cache-Control"] = "no-store"
    crash_point("dynamic.respond")
    return Response(result.body, media_type=result.media_type, headers=headers)
