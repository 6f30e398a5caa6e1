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
from dataclasses import asdict, dataclass

from fastapi import FastAPI

from mintloom.api import access_log
from mintloom.api.app import create_app
from mintloom.api.runs import PASSWORD_ENV
from mintloom.api.security import VerifyRate
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

    def to_env(self) -> None:
        os.environ[OPTIONS_ENV] = json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        raw = json.loads(os.environ[OPTIONS_ENV])
        return cls(bool(raw["offline"]), float(raw["verify_per_minute"]), int(raw["verify_burst"]))


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
    rate = VerifyRate(options.verify_per_minute, options.verify_burst)
    return create_app(Studio(Workspace.find()), offline=options.offline, verify_rate=rate)
