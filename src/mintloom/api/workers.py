"""``mintloom serve --workers N``: uvicorn starts N worker processes, each building its app here
from the options the parent left in its environment.

The parent creates first what the workers would otherwise race to create (the signing keys and
each dynamic campaign's row, whose salt must be one). Renders of different workers are made in
parallel; their commits take turns through the catalog's write lock, and a job another worker
logged meanwhile is not logged twice (:mod:`mintloom.campaign.dynamic`). One worker runs the
background anchorer (:func:`mintloom.api.render.anchorer_lock`)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass

from fastapi import FastAPI

from mintloom.api import access_log
from mintloom.api.app import create_app
from mintloom.api.deps import part
from mintloom.api.runs import PASSWORD_ENV, RunManager
from mintloom.api.security import VerifyRate
from mintloom.api.studio.session import Sessions
from mintloom.dynamic import DynamicRenderers
from mintloom.studio import Studio
from mintloom.workspace import Workspace

OPTIONS_ENV = "MINTLOOM_SERVE_OPTIONS"


@dataclass(frozen=True)
class ServeOptions:
    """What `mintloom serve` was told, handed to its worker processes."""

    offline: bool
    verify_per_minute: float
    verify_burst: int
    workers: int = 1

    def to_env(self) -> None:
        os.environ[OPTIONS_ENV] = json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        raw = json.loads(os.environ[OPTIONS_ENV])
        return cls(bool(raw["offline"]), float(raw["verify_per_minute"]), int(raw["verify_burst"]),
                   int(raw.get("workers", 1)))  # fmt: skip

    def worker_rate(self) -> VerifyRate:
        """Each worker's share of the `POST /verify` limit (a client meets one worker at a time,
        so N workers with the whole limit each would admit N times it)."""
        n = max(1, self.workers)
        return VerifyRate(self.verify_per_minute / n, max(1, self.verify_burst // n))


SESSION_KEY_ENV = "MINTLOOM_STUDIO_SESSION_KEY"
"""The studio's session-cookie key, made once by the parent: a cookie or CSRF token signed by one
worker is read by the others (each made its own key before, so every other request logged out)."""


def share_session_key() -> None:
    """In the parent, before the workers start (they inherit its environment, no file holds it)."""
    os.environ[SESSION_KEY_ENV] = secrets.token_hex(32)


def prepare(studio: Studio) -> None:
    """Before the workers start: the keys and the dynamic campaigns' rows, made once."""
    password = os.environ.get(PASSWORD_ENV)
    if not (password and studio.settings.dynamic.campaigns):
        return
    renderers = DynamicRenderers(studio.workspace, studio.settings.dynamic, password)
    try:
        renderers.open_all()
    finally:
        renderers.close()


def app() -> FastAPI:
    """A worker's app (uvicorn's factory): its own studio on the workspace of the environment."""
    access_log.install()  # this process's uvicorn logging was configured before it imported us
    options = ServeOptions.from_env()
    app = create_app(Studio(Workspace.find()), offline=options.offline, verify_rate=options.worker_rate())
    app.state.studio_sessions = Sessions(bytes.fromhex(os.environ[SESSION_KEY_ENV]))
    part(app.state, "runs", RunManager).one_process = options.workers <= 1
    return app
