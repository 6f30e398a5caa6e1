"""The HTTP API: read the catalog, fetch content and receipts, get log proofs, verify uploads.

>>> app = create_app(Studio.open(), offline=True)     # then: uvicorn.run(app)

Reading the catalog, log, QA and market needs an API token with the ``read`` scope
(:mod:`~mintloom.api.auth`); public without one are the verify page and ``POST /verify``, pages of
assets marked public, health and the OpenAPI description. Reads sign, append and write nothing
(no key password is needed). The one write path, ``POST /runs`` (:mod:`~mintloom.api.routers.runs`),
needs an API token with the ``publish`` scope and runs :class:`~mintloom.pipeline.Pipeline` with
the key password of the server's environment. Public responses: no response carries an audience
segment's name, personalised copy (tags, or the content of a ``copy`` asset) or a path of the
machine; every field served is listed in its response model (:mod:`~mintloom.api.models`).
``POST /verify`` runs :func:`~mintloom.verify.verifier.verify_bytes`, the same function as
``mintloom verify``, with one :class:`~mintloom.verify.verifier.VerifyContext` shared by all
requests (:mod:`~mintloom.api.deps`).
Errors become ``{"error", "hint"}`` with a status by subsystem (:mod:`~mintloom.api.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from mintloom import __version__
from mintloom.api import deps
from mintloom.api import studio as studio_pages
from mintloom.api.errors import ApiError, PrivateContentError, install_error_handlers, status_for
from mintloom.api.limits import (
    DEFAULT_MAX_UPLOAD,
    DEFAULT_MAX_VERIFICATIONS,
    DEFAULT_VERIFY_WAIT,
    MAX_INDEX,
    MAX_PAGE,
    MAX_RUN_BODY,
    UploadLimit,
    check_upload_limit,
)
from mintloom.api.models import AssetTags, public_report, public_tags
from mintloom.api.public import pages as public_pages
from mintloom.api.render import RenderService
from mintloom.api.routers import assets, log, market, meta, qa, render, runs, verify
from mintloom.api.security import DEFAULT_VERIFY_RATE, RateLimit, SecurityHeaders, VerifyRate, docs_csp
from mintloom.studio import Studio


def create_app(
    studio: Studio,
    *,
    offline: bool = False,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    max_verifications: int = DEFAULT_MAX_VERIFICATIONS,
    verify_wait: float = DEFAULT_VERIFY_WAIT,
    verify_rate: VerifyRate = DEFAULT_VERIFY_RATE,
) -> FastAPI:
    """The API over ``studio``'s workspace. ``offline`` never consults the chain when verifying;
    ``verify_rate`` bounds each client's ``POST /verify`` requests (429 beyond)."""
    app = FastAPI(
        title="mintloom",
        version=__version__,
        description="Catalog, transparency-log proofs and verification of a mintloom workspace.",
        lifespan=_lifespan,
    )
    settings = deps.ApiSettings(offline, check_upload_limit(max_upload_bytes), max_verifications, verify_wait)
    deps.install(app.state, studio, settings)
    app.add_middleware(UploadLimit, limit=max_upload_bytes, paths=frozenset({"/verify"}))
    app.add_middleware(UploadLimit, limit=MAX_RUN_BODY, paths=frozenset({"/runs"}))
    app.add_middleware(RateLimit, buckets=verify_rate.buckets(), paths=frozenset({"/verify"}))
    app.add_middleware(SecurityHeaders, special=dict.fromkeys(("/docs", "/redoc"), docs_csp(app)))
    install_error_handlers(app)
    for router in (meta.router, assets.router, qa.router, log.router, verify.router, runs.router):
        app.include_router(router)
    app.include_router(market.router)
    studio_pages.install(app)
    app.include_router(public_pages.router)
    app.include_router(render.router)
    app.state.render = RenderService(studio.workspace, studio.settings.dynamic)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the verification context and its fingerprint index once, before the first request."""
    await run_in_threadpool(deps.part(app.state, "verifier", deps.SharedVerifyContext).context)
    with deps.part(app.state, "render", RenderService).anchoring():
        yield


__all__ = [
    "DEFAULT_MAX_UPLOAD",
    "MAX_INDEX",
    "MAX_PAGE",
    "ApiError",
    "AssetTags",
    "PrivateContentError",
    "create_app",
    "public_report",
    "public_tags",
    "status_for",
]
