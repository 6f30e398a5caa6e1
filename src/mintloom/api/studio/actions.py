"""The studio's forms (POST): login, logout, review (draw, approve, reject) and royalty claims.

Every form carries the session's CSRF token; a post without a session is 401, one with a missing
or foreign CSRF token 403 (:class:`~mintloom.api.studio.session.CsrfError`), one whose token lacks
the scope 403 (:class:`~mintloom.api.studio.session.ScopeError`). Successful posts redirect (303)
to the page they came from with a short note of what was done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mintloom.api.auth import get_tokens
from mintloom.api.errors import ConflictError
from mintloom.api.studio import chain_pages
from mintloom.api.studio.pages import studio_of
from mintloom.api.studio.render import page
from mintloom.api.studio.session import (
    CsrfError,
    FormUser,
    check_csrf,
    logged_in,
    new_session,
    opens_studio,
    require,
    safe_next,
    sessions,
)
from mintloom.errors import GovernanceError
from mintloom.governance.review import draw
from mintloom.store.tokens import hash_secret

router = APIRouter(prefix="/studio", include_in_schema=False)
Csrf = Annotated[str | None, Form(max_length=128)]
SAMPLE_SIZE = 4


class ActionRefusedError(ConflictError):
    """A review or claim the workspace refuses as it stands (no sample drawn, a group changed since
    its sample, a malformed group, nothing to claim): 409 with the governance error's words."""


@contextmanager
def _refused() -> Iterator[None]:
    """Governance refusals become 409 (they are about the request, not a server failure)."""
    try:
        yield
    except GovernanceError as exc:
        raise ActionRefusedError(exc.message, hint=exc.hint) from exc


def _done(request: Request, path: str, note: str) -> RedirectResponse:
    signed = sessions(request).sign_note(note)
    return RedirectResponse(f"{path}?{urlencode({'done': signed})}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The login form, with a fresh anonymous session whose CSRF token the form must return."""
    target = safe_next(request.query_params.get("next"))
    if logged_in(request) is not None:
        return RedirectResponse(target, status_code=303)
    session = new_session()
    response = page(request, None, "login", session=session, next=target)
    sessions(request).write(response, session, secure=request.url.scheme == "https")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=128)],
    csrf: Csrf = None,
    next: Annotated[str | None, Form(max_length=512)] = None,
) -> Response:
    """Log in with an API token: a new session (and CSRF token) bound to the token's hash."""
    store = sessions(request)
    anonymous = store.read(request)
    if anonymous is None:
        raise CsrfError("missing or forged CSRF token", hint="open /studio/login and submit its form")
    check_csrf(anonymous, csrf)
    info = get_tokens(request).authenticate(token.strip())
    if info is None or not opens_studio(info):
        again = new_session()
        error = "unknown or revoked token" if info is None else "this token's scopes do not open the studio"
        response = page(request, None, "login", session=again, status=401, next=safe_next(next),
                        error=error)  # fmt: skip
        store.write(response, again, secure=request.url.scheme == "https")
        return response
    redirect = RedirectResponse(safe_next(next), status_code=303)
    store.write(redirect, new_session(hash_secret(token.strip())), secure=request.url.scheme == "https")
    return redirect


@router.post("/logout")
def logout(request: Request, user: FormUser, csrf: Csrf = None) -> RedirectResponse:
    check_csrf(user.session, csrf)
    response = RedirectResponse("/studio/login", status_code=303)
    sessions(request).clear(response)
    return response


@router.post("/review/draw")
def review_draw(
    request: Request, user: FormUser, campaign: Annotated[str, Form(max_length=64)], csrf: Csrf = None
) -> RedirectResponse:
    """Draw each group's sample, as ``mintloom review CAMPAIGN`` does (seed 0)."""
    check_csrf(user.session, csrf)
    require(user, "review")
    with _refused():
        samples = draw(studio_of(request).db, campaign, size=SAMPLE_SIZE, seed=0)
    return _done(request, "/studio/review", f"drew samples of {len(samples)} group(s) of {campaign}")


@router.post("/review/decide")
def review_decide(
    request: Request,
    user: FormUser,
    group: Annotated[str, Form(max_length=200)],
    decision: Annotated[Literal["approve", "reject"], Form()],
    csrf: Csrf = None,
) -> RedirectResponse:
    """Sign and record the decision with the server's reviewer key."""
    check_csrf(user.session, csrf)
    require(user, "review")
    with _refused():
        who = chain_pages.sign_decision(studio_of(request), group, decision)
    verb = "approved" if decision == "approve" else "rejected"
    return _done(request, "/studio/review", f"{group} {verb}, signed by {who.name}")


@router.post("/royalties/claim")
def royalties_claim(request: Request, user: FormUser, csrf: Csrf = None) -> RedirectResponse:
    """Withdraw the workspace account's royalties (``publish`` scope)."""
    check_csrf(user.session, csrf)
    require(user, "publish")
    with _refused():
        c = chain_pages.claim_royalties(studio_of(request))
    return _done(
        request, "/studio/royalties", f"claimed {c.amount / 10**18:g} ETH to {c.account} in {c.tx_hash}"
    )
