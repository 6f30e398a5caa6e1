"""The web studio: server-rendered pages for logged-in users (campaigns, gallery, assets, review,
royalties, market, DAO) at ``/studio``, served by the same app as the API (``mintloom serve``).

>>> install(app)        # in create_app: routes, templates and the session key
"""

from __future__ import annotations

from fastapi import FastAPI

from mintloom.api.studio import actions, dao_page, ingredients, pages
from mintloom.api.studio.session import Sessions


def install(app: FastAPI) -> None:
    """Add the studio's routes to ``app``, with a session key made now (restarts log users out)."""
    app.state.studio_sessions = Sessions()
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(dao_page.router)
    app.include_router(ingredients.router)
