"""`mintloom serve`: the HTTP API of the workspace (catalog, log proofs, verify: public, read-only;
campaign runs: with a `mintloom tokens` token, and MINTLOOM_KEY_PASSWORD in the environment)."""

from __future__ import annotations

from typing import Annotated

import typer

from mintloom.cli.console import console, studio


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    offline: Annotated[bool, typer.Option(help="Never consult the chain when verifying uploads.")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) over this workspace until interrupted."""
    import uvicorn

    from mintloom.api.app import create_app

    s = studio()  # the public routes need no key password; runs read $MINTLOOM_KEY_PASSWORD
    try:
        app = create_app(s, offline=offline)
        console.print(
            f"[green]mintloom API[/] for {s.workspace.root} on http://{host}:{port} (docs at /docs)"
        )
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        s.close()
