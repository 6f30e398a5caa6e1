"""`mintloom serve`: the HTTP API and pages of the workspace (catalog, log proofs, the public verify
page: public, read-only; campaign runs: with a `mintloom tokens` token, and MINTLOOM_KEY_PASSWORD in
the environment). It listens on loopback unless told otherwise, and only with authentication then."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from mintloom.cli.console import console, studio

HEALTHCHECK_SECONDS = 300
"""How long a starting worker may take to answer uvicorn's health check."""

if TYPE_CHECKING:
    from mintloom.api.workers import ServeOptions
    from mintloom.studio import Studio


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
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (dynamic renders in parallel; one anchorer).")
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the verify page (/) until interrupted."""
    import uvicorn

    from mintloom.api import access_log
    from mintloom.api.app import create_app
    from mintloom.api.security import VerifyRate, check_bind
    from mintloom.api.workers import ServeOptions
    from mintloom.store.tokens import TokenStore

    s = studio()  # the public routes need no key password; runs read $MINTLOOM_KEY_PASSWORD
    try:
        check_bind(host, TokenStore(s.db), allow_unauthenticated=allow_unauthenticated)
        console.print(f"[green]mintloom[/] for {s.workspace.root} on http://{host}:{port} (docs at /docs)")
        access_log.install()  # before any worker starts: a logged request line holds no query
        if workers > 1:
            _serve_workers(
                s, host, port, workers, ServeOptions(offline, verify_per_minute, verify_burst, workers)
            )
            return
        app = create_app(s, offline=offline, verify_rate=VerifyRate(verify_per_minute, verify_burst))
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        s.close()


def _serve_workers(s: Studio, host: str, port: int, workers: int, options: ServeOptions) -> None:
    """uvicorn's worker processes, each building its app (:mod:`mintloom.api.workers`) on this
    workspace, once what they would race to create exists."""
    import uvicorn

    from mintloom.api.workers import prepare, share_session_key

    prepare(s)
    options.to_env()
    share_session_key()
    os.environ["MINTLOOM_WORKSPACE"] = str(s.workspace.root)
    factory = "mintloom.api.workers:app"
    # a worker answers uvicorn's health check only between its imports and its warm-up: on a
    # loaded machine that takes longer than uvicorn's 5 s, after which it kills and restarts it
    uvicorn.run(factory, factory=True, host=host, port=port, workers=workers, log_level="info",
                timeout_worker_healthcheck=HEALTHCHECK_SECONDS)  # fmt: skip
