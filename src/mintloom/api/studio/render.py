"""Rendering studio pages: the templates shipped in the package, with the user and CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from mintloom.api.studio.session import StudioSession, User, sessions

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb"})
NAV = (
    ("campaigns", "Campaigns"),
    ("review", "Review"),
    ("royalties", "Royalties"),
    ("market", "Market"),
    ("dao", "DAO"),
)


def direction(locale: str | None) -> str:
    """``rtl`` for a locale written right to left (``ar-EG``), else ``ltr``."""
    return "rtl" if locale and locale.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


templates.env.globals.update(direction=direction, nav=NAV)


def page(request: Request, user: User | None, name: str, session: StudioSession | None = None,
         status: int = 200, **context: Any) -> HTMLResponse:  # fmt: skip
    """The template ``studio/<name>.html`` with the user, their CSRF token and ``context``."""
    csrf = (session or (user.session if user else None) or StudioSession("")).csrf
    note = sessions(request).read_note(request.query_params.get("done"))
    context.update(user=user, csrf=csrf, here=name, note=note)
    response = templates.TemplateResponse(request, f"studio/{name}.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response
