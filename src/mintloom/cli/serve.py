"""`mintloom serve`: the HTTP API and pages of the workspace (catalog, log proofs, the public verify
page: public, read-only; campaign runs: with a `mintloom tokens` token, and MINTLOOM_KEY_PASSWORD in
the environment). It listens on loopback unless told otherwise, and only with authentication then."""

from __future__ import annotations

from typing import Annotated

import typer

from mintloom.cli.console import console, studio


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (beyond loopback: needs an admin token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    *,
    offline: Annotated[bool, typer.Option(help="Never consult the chain when verifying uploads.")] = False,
    allow_unauthenticated: Annotated[
        bool, typer.Option(help="Listen beyond loopback although no admin token exists.")
    ] = False,
    verify_per_minute: Annotated[
        float, typer.Option(min=0.1, help="POST /verify a client may send a minute (then 429).")
    ] = 30.0,
    verify_burst: Annotated[int, typer.Option(min=1, help="POST /verify a client may send at once.")] = 10,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the verify page (/) until interrupted."""
    import uvicorn

    from mintloom.api import access_log
    from mintloom.api.app import create_app
    from mintloom.api.security import VerifyRate, check_bind
    from mintloom.store.tokens import TokenStore

    s = studio()  # the public routes need no key password; runs read $MINTLOOM_KEY_PASSWORD
    try:
        check_bind(host, TokenStore(s.db), allow_unauthenticated=allow_unauthenticated)
        app = create_app(s, offline=offline, verify_rate=VerifyRate(verify_per_minute, verify_burst))
        console.print(f"[green]mintloom[/] for {s.workspace.root} on http://{host}:{port} (docs at /docs)")
        access_log.install()
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        s.close()
