"""`mintloom tokens create|list|revoke`: scoped API tokens (only their hashes are stored)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.store.tokens import SCOPES, TokenStore

app = typer.Typer(help="Create, list and revoke the API's bearer tokens.", no_args_is_help=True)


def _store() -> TokenStore:
    return TokenStore(studio().db)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A name for the token (to list and revoke it).")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help=f"A scope to grant ({', '.join(SCOPES)}); repeatable.")
    ],
) -> None:
    """Create a token and print its secret once: it is stored hashed and cannot be shown again."""
    info, secret = _store().create(name, scope)
    console.print(f"token [bold]{info.name}[/] ({', '.join(sorted(info.scopes))}); its secret, shown once:")
    console.print(secret, soft_wrap=True, markup=False, highlight=False)


@app.command("list")
def list_tokens() -> None:
    """List the tokens (names, scopes, state; never a secret)."""
    t = Table("name", "scopes", "created", "state")
    for info in _store().list():
        state = "revoked" if info.revoked else "active"
        created = info.created_at.isoformat(timespec="seconds")
        t.add_row(info.name, " ".join(sorted(info.scopes)), created, state)
    console.print(t)


@app.command()
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: the API refuses it from the next request on."""
    info = _store().revoke(name)
    console.print(f"token [bold]{info.name}[/] revoked")
