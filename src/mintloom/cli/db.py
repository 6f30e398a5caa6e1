"""`mintloom db current|upgrade`: the catalog's schema revision, and migrating it to this release's."""

from __future__ import annotations

import typer

from mintloom.cli.console import console, workspace
from mintloom.store.db import engine_url_safe

app = typer.Typer(help="The catalog database's schema: show its revision, upgrade it.", no_args_is_help=True)


@app.command()
def current() -> None:
    """Show the catalog's schema revision and this mintloom's head (changes nothing)."""
    from mintloom.schema import schema_state

    url = workspace().database_url()
    found = schema_state(url)
    console.print(f"catalog  {engine_url_safe(url)}")
    console.print(f"schema   {found.describe()}", markup=False, highlight=False)


@app.command()
def upgrade() -> None:
    """Migrate the catalog to this mintloom's schema (creating it when empty). Opening the
    workspace to write does the same; read paths (verify) refuse an older catalog instead."""
    from mintloom.schema import upgrade_database

    url = workspace().database_url()
    before, after = upgrade_database(url)
    if before.current:
        console.print(f"catalog {engine_url_safe(url)} is up to date (schema {after.revision})")
    elif before.empty:
        console.print(f"catalog {engine_url_safe(url)} created at schema {after.revision}")
    else:
        was = before.revision or "0001 (unversioned)"
        console.print(f"catalog {engine_url_safe(url)} upgraded from schema {was} to {after.revision}")
