"""The demo's last step: how to open the studio on the demo workspace, with a token to log in.

Each run makes a fresh ``demo-studio-N`` token (read and review scopes: browse, and approve review
groups) and revokes the earlier ones, since a token's secret is shown only once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mintloom.cli.console import console
from mintloom.store.tokens import TokenStore

if TYPE_CHECKING:
    from mintloom.workspace import Workspace

DEMO_TOKEN = "demo-studio"
DEMO_SCOPES = ("read", "review")
URL = "http://127.0.0.1:8000"


def studio_step(ws: Workspace) -> str:
    """Print the command that serves the studio, its URL and a new demo token; return the token."""
    from mintloom.studio import Studio

    with Studio(ws) as studio:  # tokens need no key password
        tokens = TokenStore(studio.db)
        earlier = [t for t in tokens.list() if t.name.startswith(f"{DEMO_TOKEN}-")]
        for t in earlier:
            if not t.revoked:
                tokens.revoke(t.name)
        _, secret = tokens.create(f"{DEMO_TOKEN}-{len(earlier) + 1}", DEMO_SCOPES)
    console.print(f"\nOpen the studio: [bold]cd {ws.root} && mintloom serve[/], then {URL}/studio")
    console.print(f"  (the public verify page is {URL}/); log in with this token ({', '.join(DEMO_SCOPES)}):")
    console.print(secret, soft_wrap=True, markup=False, highlight=False)
    return secret
