"""The studio's DAO page (``/studio/dao``) and its forms: vote, queue, execute, claim share revenue.

The page reads the family through :mod:`mintloom.api.studio.dao_view`. Each form sends from the
workspace account (``MINTLOOM_KEY_PASSWORD``, as the ``mintloom dao`` commands do) through the
same functions of :mod:`mintloom.governance.dao`. Voting, queueing and executing spend the brand's
votes or the treasury: ``admin`` scope; claiming the account's own revenue: ``publish``, as a
royalty claim. A refusal of the DAO (a vote before voting opens, a second vote…) comes back to the
page named by its error class; CSRF and scope failures stay 403 as on every studio form.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mintloom.api.deps import SettingsDep
from mintloom.api.runs import PASSWORD_ENV
from mintloom.api.studio import chain_pages
from mintloom.api.studio.chain_pages import SignerUnavailableError
from mintloom.api.studio.dao_view import dao_view
from mintloom.api.studio.pages import studio_of
from mintloom.api.studio.render import page
from mintloom.api.studio.session import FormUser, PageUser, check_csrf, require, sessions
from mintloom.errors import GovernanceError
from mintloom.governance import dao
from mintloom.ledger.client import ChainClient
from mintloom.ledger.connect import sender_address
from mintloom.studio import Studio

router = APIRouter(prefix="/studio", include_in_schema=False)
Csrf = Annotated[str | None, Form(max_length=128)]
ProposalId = Annotated[str, Form(pattern=r"^0x[0-9a-f]{64}$")]
"""A proposal by its full id (never a number: a form is about the proposal it was drawn for)."""
HERE = "/studio/dao"


@router.get("/dao", response_class=HTMLResponse)
def dao_page(request: Request, user: PageUser, settings: SettingsDep) -> HTMLResponse:
    """The family's shares, holders, proposals and UGC pool, with the forms the token may use."""
    studio = studio_of(request)
    reader, why = chain_pages.reader(studio, settings.offline)
    me = sender_address(studio.workspace, studio.settings) if reader is not None else None
    view = dao_view(reader, studio.db, me, why)
    refused = sessions(request).read_note(request.query_params.get("refused"))
    return page(request, user, "dao", dao=view, eth=dao.eth, refused=refused,
                can_govern=user.can("admin"), can_claim=user.can("publish"),
                signer_ready=bool(os.environ.get(PASSWORD_ENV)))  # fmt: skip


@router.post("/dao/vote")
def vote(
    request: Request,
    user: FormUser,
    *,
    proposal: ProposalId,
    support: Annotated[Literal["for", "against", "abstain"], Form()],
    reason: Annotated[str, Form(max_length=200)] = "",
    csrf: Csrf = None,
) -> RedirectResponse:
    """Cast the workspace account's votes, as ``mintloom dao vote``."""
    check_csrf(user.session, csrf)
    require(user, "admin")

    def send(chain: ChainClient) -> str:
        p = dao.vote(chain, proposal, support, reason)
        return f"voted {support} on #{p.number}: it is {p.state}"

    return _act(request, send)


@router.post("/dao/queue")
def queue(request: Request, user: FormUser, proposal: ProposalId, csrf: Csrf = None) -> RedirectResponse:
    """Queue a succeeded proposal in the timelock, as ``mintloom dao queue``."""
    check_csrf(user.session, csrf)
    require(user, "admin")
    return _act(request, lambda chain: f"queued #{dao.queue(chain, proposal).number}")


@router.post("/dao/execute")
def execute(
    request: Request,
    user: FormUser,
    proposal: ProposalId,
    pay: Annotated[bool, Form()] = False,
    csrf: Csrf = None,
) -> RedirectResponse:
    """Execute a queued proposal whose delay passed, as ``mintloom dao execute [--pay]``."""
    check_csrf(user.session, csrf)
    require(user, "admin")

    def send(chain: ChainClient) -> str:
        p = dao.execute(chain, proposal, pay=pay)
        return f"executed #{p.number}: {p.description}"

    return _act(request, send)


@router.post("/dao/claim")
def claim(request: Request, user: FormUser, csrf: Csrf = None) -> RedirectResponse:
    """Withdraw the workspace account's share revenue, as ``mintloom dao shares claim``."""
    check_csrf(user.session, csrf)
    require(user, "publish")
    return _act(request, lambda chain: f"claimed {dao.eth(dao.claim_revenue(chain))} ETH of share revenue")


def _act(request: Request, send: Callable[[ChainClient], str]) -> RedirectResponse:
    """Run ``send`` from the workspace account; back to the page with what it did, or with the
    DAO's refusal named by its error class (nothing was sent: the checks run before sending)."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise SignerUnavailableError(
            "this server has no key password to send DAO transactions with",
            hint=f"start `mintloom serve` with {PASSWORD_ENV} set",
        )
    with Studio(studio_of(request).workspace, password=password) as signing:
        try:
            note = send(signing.chain)
        except GovernanceError as exc:
            return _back(request, "refused", f"{type(exc).__name__}: {exc.message}")
    return _back(request, "done", note)


def _back(request: Request, kind: Literal["done", "refused"], note: str) -> RedirectResponse:
    signed = sessions(request).sign_note(note)
    return RedirectResponse(f"{HERE}?{urlencode([(kind, signed)])}", status_code=303)
