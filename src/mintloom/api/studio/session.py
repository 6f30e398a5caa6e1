"""Studio login: a signed session cookie holding an API token's hash and a CSRF token.

The cookie (itsdangerous, HMAC-signed with a key made when the app starts) is HttpOnly and
SameSite=Strict; it carries the sha-256 of the token the user logged in with, never the secret,
and every request looks that hash up again, so revoking the token ends the session. Every POST
form carries the session's CSRF token (session-bound: a fresh one at login); a missing or
foreign one is refused by name (:class:`CsrfError`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException

from mintloom.api.auth import get_tokens
from mintloom.api.errors import ForbiddenError, UnauthorizedError
from mintloom.store.tokens import Scope, TokenInfo

COOKIE = "mintloom_studio"
MAX_AGE = 8 * 3600
"""Seconds a session lasts after login."""
LOGIN = "/studio/login"
NOTE_AGE = 300
"""Seconds a signed "done" note stays showable (a reload soon after the action still shows it)."""


class CsrfError(ForbiddenError):
    """A studio form posted without the session's CSRF token, or with another one."""


class ScopeError(ForbiddenError):
    """A logged-in user whose token lacks the scope an action needs."""


@dataclass(frozen=True)
class StudioSession:
    csrf: str
    token_digest: str | None = None


@dataclass(frozen=True)
class User:
    """A logged-in studio user: their token (without secret) and their session."""

    token: TokenInfo
    session: StudioSession

    def can(self, *scopes: Scope) -> bool:
        """Whether the token grants one of ``scopes`` (admin grants every scope but render)."""
        return any(self.token.grants(s) for s in scopes)


class Sessions:
    """Signs and reads session cookies with the app's key (made at start: restarts log users out)."""

    def __init__(self, key: bytes | None = None) -> None:
        key = key or secrets.token_bytes(32)
        self._signer = URLSafeTimedSerializer(key, salt="mintloom-studio")
        self._notes = URLSafeTimedSerializer(key, salt="mintloom-studio-note")

    def read(self, request: Request) -> StudioSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 4096:
            return None
        try:
            data = self._signer.loads(raw, max_age=MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        digest = data.get("t")
        return StudioSession(data["c"], digest if isinstance(digest, str) else None)

    def write(self, response: Response, session: StudioSession, *, secure: bool) -> None:
        value = self._signer.dumps({"c": session.csrf, "t": session.token_digest})
        response.set_cookie(COOKIE, value, max_age=MAX_AGE, path="/studio", httponly=True,
                            samesite="strict", secure=secure)  # fmt: skip

    def sign_note(self, note: str) -> str:
        """A note for the next page (``?done=``), signed so no link can make the studio say a thing."""
        return self._notes.dumps(note)

    def read_note(self, raw: str | None) -> str | None:
        if not raw or len(raw) > 2048:
            return None
        try:
            note = self._notes.loads(raw, max_age=NOTE_AGE)
        except BadSignature:
            return None
        return note if isinstance(note, str) else None

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/studio", httponly=True, samesite="strict")


def new_session(token_digest: str | None = None) -> StudioSession:
    return StudioSession(secrets.token_urlsafe(32), token_digest)


def sessions(request: Request) -> Sessions:
    value = request.app.state.studio_sessions
    assert isinstance(value, Sessions)
    return value


STUDIO_SCOPES: frozenset[Scope] = frozenset({"read", "review", "publish", "admin"})
"""A token opens the studio with one of these: a ``render``-only token (handed to ad servers)
never sees segment names, personalised copy or asset files."""


def opens_studio(token: TokenInfo) -> bool:
    return bool(token.scopes & STUDIO_SCOPES)


def logged_in(request: Request) -> User | None:
    """The request's user, if its cookie is valid and its token still live and a studio token."""
    session = sessions(request).read(request)
    if session is None or session.token_digest is None:
        return None
    token = get_tokens(request).by_digest(session.token_digest)
    return None if token is None or not opens_studio(token) else User(token, session)


def page_user(request: Request) -> User:
    """A page's user; a visitor without a session is sent to the login page (303)."""
    user = logged_in(request)
    if user is None:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        raise StarletteHTTPException(303, "log in first", headers={"Location": f"{LOGIN}?next={target}"})
    return user


def form_user(request: Request) -> User:
    """A form post's user: no session is 401 (posts are never redirected)."""
    user = logged_in(request)
    if user is None:
        raise UnauthorizedError("log in to the studio first", hint=f"open {LOGIN}")
    return user


def check_csrf(session: StudioSession, sent: str | None) -> None:
    """Refuse a form whose CSRF token is not this session's."""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfError("missing or forged CSRF token", hint="reload the page and submit its form again")


def require(user: User, scope: Scope) -> None:
    if not user.can(scope):
        raise ScopeError(f"your token lacks the scope {scope}", hint=f"log in with a token holding {scope}")


def safe_next(raw: str | None) -> str:
    """Where to go after login: a studio path only (no open redirect)."""
    if raw and raw.startswith("/studio/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/studio/campaigns"


PageUser = Annotated[User, Depends(page_user)]
FormUser = Annotated[User, Depends(form_user)]
