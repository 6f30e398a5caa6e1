"""Errors of the API and how every error becomes a response.

Every :class:`~mintloom.errors.MintloomError` becomes ``{"error", "hint"}`` with a status chosen
by subsystem; so do FastAPI's own HTTP and validation errors. Storage and configuration failures
can carry paths and SQL, so clients get a generic message and the server log the details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mintloom.api.models import ErrorOut
from mintloom.errors import (
    ConfigError,
    LedgerError,
    MintloomError,
    ProvenanceError,
    RenderURLError,
    SpecError,
    StoreError,
    VerifyError,
)
from mintloom.store.cid import parse_cid
from mintloom.types import CID

logger = logging.getLogger(__name__)


class ApiError(MintloomError):
    """An error the API raises about the request itself."""

    status_code = 400


class NotFoundError(ApiError):
    status_code = 404


class InvalidInputError(ApiError):
    status_code = 422


class PayloadTooLargeError(ApiError):
    status_code = 413


class PrivateContentError(ApiError):
    """Personalised content (a copy asset's text) asked of an API that does not authenticate."""

    status_code = 403


class UnauthorizedError(ApiError):
    """No token, or one that is unknown or revoked: the client sends ``Authorization: Bearer``."""

    status_code = 401


class ForbiddenError(ApiError):
    """A valid token without the scope the route needs."""

    status_code = 403


class ConflictError(ApiError):
    status_code = 409


class UnavailableError(ApiError):
    """The server is not set up for this request (e.g. runs without a key password)."""

    status_code = 503


class BusyError(ApiError):
    """Every verification slot is taken: the client retries after ``Retry-After`` seconds."""

    status_code = 503
    retry_after = 1


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid request"},
}
"""The OpenAPI ``responses`` of the common error statuses."""


def status_for(exc: MintloomError) -> int:
    """HTTP status of a mintloom error, by subsystem."""
    if isinstance(exc, ApiError):
        return exc.status_code
    if isinstance(exc, RenderURLError):
        return 403
    if isinstance(exc, (VerifyError, SpecError)):
        return 422
    if isinstance(exc, LedgerError):
        return 503
    return 500


def public_error(exc: MintloomError) -> tuple[str, str | None]:
    """The message a client may see: storage failures can carry paths and SQL, so they don't."""
    if isinstance(exc, StoreError):
        return "the catalog or blob store failed", "see the server log for details"
    if isinstance(exc, ConfigError):
        return "the workspace is misconfigured", "see the server log for details"
    if isinstance(exc, LedgerError):
        return "the chain is unavailable", exc.hint
    return exc.message, exc.hint


def parse_cid_param(raw: str) -> CID:
    """A CID from a path or query parameter, or 422 with a hint on the accepted form."""
    try:
        return parse_cid(raw)
    except ProvenanceError as exc:
        raise InvalidInputError(
            exc.message, hint="CIDs are base32 CIDv1 (sha2-256, raw 'bafkrei...' or dag-pb 'bafybei...')"
        ) from exc


# --- handlers -------------------------------------------------------------------------------------
async def mintloom_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MintloomError)
    status = status_for(exc)
    if status >= 500:
        logger.error("request failed: %s", exc, exc_info=exc)
    error, hint = public_error(exc)
    headers = _headers(exc)
    return JSONResponse(ErrorOut(error=error, hint=hint).model_dump(), status_code=status, headers=headers)


def _headers(exc: MintloomError) -> dict[str, str] | None:
    if isinstance(exc, BusyError):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": "Bearer"}
    return None


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    body = ErrorOut(error=str(exc.detail)).model_dump()
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
    ]
    body = ErrorOut(error="invalid request", hint="; ".join(problems) or None).model_dump()
    return JSONResponse(body, status_code=422)


HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    MintloomError: mintloom_error,
    StarletteHTTPException: http_error,
    RequestValidationError: validation_error,
}


def install_error_handlers(app: FastAPI) -> None:
    for cls, handler in HANDLERS.items():
        app.add_exception_handler(cls, handler)
