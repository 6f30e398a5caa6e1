"""`mintloom render-url CAMPAIGN -v name=value …`: a signed URL of a dynamic creative, for ad
servers that can only fetch a URL (``GET /campaigns/{campaign}/render``, checked by the server
against the workspace's render-URL key; see :mod:`mintloom.campaign.render_url`)."""

from __future__ import annotations

from typing import Annotated

import typer

from mintloom.campaign.render_url import sign_query, url_key
from mintloom.cli.console import console, workspace
from mintloom.errors import DynamicVariableError


def render_url(
    campaign: Annotated[str, typer.Argument(help="A campaign listed under [dynamic.campaigns].")],
    var: Annotated[
        list[str] | None, typer.Option("--var", "-v", help="A live variable, name=value; repeatable.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="The format (default: the first).")] = None,
    base: Annotated[str, typer.Option(help="The server's base URL.")] = "http://127.0.0.1:8000",
    ttl: Annotated[int | None, typer.Option(min=1, help="Seconds valid (dynamic.url_ttl).")] = None,
) -> None:
    """Print a signed render URL (valid until its exp; whoever has it can fetch that creative)."""
    ws = workspace()
    params: list[tuple[str, str]] = []
    for item in var or []:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise DynamicVariableError(f"--var {item!r} is not name=value", field=name or item)
        params.append((name, value))
    if fmt is not None:
        params.append(("format", fmt))
    query = sign_query(url_key(ws.state_dir), campaign, params, ttl or ws.settings().dynamic.url_ttl)
    console.print(f"{base.rstrip('/')}/campaigns/{campaign}/render?{query}", soft_wrap=True, markup=False,
                  highlight=False)  # fmt: skip
