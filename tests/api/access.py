"""Who may call what: API tokens for tests that call the read API, and the routes open to all."""

from __future__ import annotations

from itertools import count

from mintloom.api.security import VerifyRate
from mintloom.store.db import Database
from mintloom.store.tokens import TokenStore

_made = count()
MANY = VerifyRate(per_minute=600, burst=100)
"""A rate limit the tests' single client, verifying every asset, stays under."""

PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        # the public pages, the upload they post to, and the file of an asset marked public
        ("GET", "/"),
        ("GET", "/verify"),
        ("POST", "/verify"),
        ("GET", "/a/{cid}"),
        ("GET", "/a/{cid}/file"),
        ("GET", "/public/static/{name}"),
        # a signed render URL for ad servers: its HMAC signature is the credential (403 without)
        ("GET", "/campaigns/{campaign}/render"),
        # the studio's way in: its login form, its static files, /studio (a redirect to its pages)
        ("GET", "/studio"),
        ("GET", "/studio/login"),
        ("POST", "/studio/login"),
        ("GET", "/studio/static/{name}"),
        # the API's description and health
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)
"""Every (method, path) a client may use without credentials. Any other route of the app must
answer 401 (API: the catalog, log, QA and market reads need the ``read`` scope) or 303 to a login
page (studio) to a request without them (tests/api/test_public_web.py)."""


def bearer(db: Database, *scopes: str) -> dict[str, str]:
    """The ``Authorization`` header of a new token with ``scopes`` (``read`` if none) in ``db``."""
    _info, secret = TokenStore(db).create(f"test-{next(_made)}", scopes or ("read",))
    return {"Authorization": f"Bearer {secret}"}
