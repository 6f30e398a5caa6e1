"""Bearer-token authentication of the API (tokens: :mod:`mintloom.store.tokens`).

Only the public routes take no token (the verify page and ``POST /verify``, pages of assets
marked public, health, the OpenAPI description). A route that needs one depends on
:func:`require_scope`: no, unknown or revoked token → 401 (``WWW-Authenticate: Bearer``), a
token granting none of the route's scopes → 403. Scopes are ordered (admin ⊇ publish, review ⊇
read; ``render`` apart: :data:`~mintloom.store.tokens.IMPLIES`). Authenticating only reads the
token table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mintloom.api.deps import part
from mintloom.api.errors import ForbiddenError, UnauthorizedError
from mintloom.api.models import ErrorOut
from mintloom.store.tokens import Scope, TokenInfo, TokenStore

_bearer = HTTPBearer(auto_error=False, description="An API token from `mintloom tokens create`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_tokens(request: Request) -> TokenStore:
    return part(request.app.state, "tokens", TokenStore)


def authenticate(tokens: TokenStore, credentials: HTTPAuthorizationCredentials | None) -> TokenInfo:
    """The live token the request presents; :class:`UnauthorizedError` otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("this route needs an API token", hint="send 'Authorization: Bearer mlt_...'")
    token = tokens.authenticate(credentials.credentials)
    if token is None:
        raise UnauthorizedError(
            "invalid or revoked API token", hint="create one with `mintloom tokens create`"
        )
    return token


def require_scope(*scopes: Scope) -> Callable[..., TokenInfo]:
    """A dependency admitting a live token holding any of ``scopes``."""

    def dependency(request: Request, credentials: BearerDep) -> TokenInfo:
        token = authenticate(get_tokens(request), credentials)
        if not any(token.grants(s) for s in scopes):
            raise ForbiddenError(f"this token lacks the scope {' or '.join(scopes)}",
                                 hint="create a token with that scope")  # fmt: skip
        return token

    return dependency


AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No, unknown or revoked token"},
    403: {"model": ErrorOut, "description": "The token lacks the scope"},
}
READ = Depends(require_scope("read"))
"""The dependency of every catalog, log, QA and market read route."""
