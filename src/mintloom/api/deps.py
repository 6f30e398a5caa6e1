"""FastAPI dependencies: the parts of the workspace every request reads, opened once per app.

:func:`install` opens them when the app is built and keeps them on ``app.state``; routes ask for
them through the ``...Dep`` aliases (``Depends``). Read-only: nothing here needs the key password,
signs, appends or writes to the workspace (authenticated runs open their own studio:
:mod:`~mintloom.api.runs`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.datastructures import State

from mintloom.api.runs import RunManager
from mintloom.chain_lookup import verify_context
from mintloom.provenance.log import TransparencyLog
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.verify.verifier import VerifyContext

T = TypeVar("T")


@dataclass(frozen=True)
class ApiSettings:
    """How the app was configured (see :func:`~mintloom.api.app.create_app`)."""

    offline: bool
    """Never consult the chain when verifying."""
    max_upload_bytes: int
    max_verifications: int
    verify_wait: float


def build_verify_context(studio: Studio, offline: bool) -> VerifyContext:
    """The one place the API builds its verification context."""
    return verify_context(studio, offline=offline)


class SharedVerifyContext:
    """The one VerifyContext of the app, built on first use (or at startup) under a lock, with its
    fingerprint index rebuilt when the log has grown since (another process ran a campaign)."""

    def __init__(self, studio: Studio, offline: bool) -> None:
        self.studio = studio
        self.offline = offline
        self._lock = threading.Lock()
        self._ctx: VerifyContext | None = None
        self._indexed_size = -1

    def context(self, offline: bool = False) -> VerifyContext:
        """The shared context (without its chain if ``offline``), its index up to date."""
        with self._lock:
            log = self.studio.log
            log.refresh()
            ctx = self._ctx
            if ctx is None:
                ctx = build_verify_context(self.studio, self.offline)
            elif self._indexed_size != log.size:
                ctx = replace(ctx, _index=None)  # the same context, its fingerprint index rebuilt
            if ctx is not self._ctx:
                ctx.fingerprint_index()  # lazily built inside; never concurrently
                self._ctx, self._indexed_size = ctx, log.size
        if offline and ctx.chain is not None:
            return replace(ctx, chain=None, chain_error=None)
        return ctx


def install(state: State, studio: Studio, settings: ApiSettings) -> None:
    """Open the shared parts of ``studio`` now (so concurrent first requests don't race on its
    cached properties) and keep them on the app's ``state``."""
    state.studio = studio
    state.settings = settings
    state.catalog = Catalog(studio.db)
    state.log = studio.log
    state.blobs = studio.blobs
    state.verifier = SharedVerifyContext(studio, settings.offline)
    state.verify_slots = threading.BoundedSemaphore(settings.max_verifications)
    state.tokens = TokenStore(studio.db)
    state.runs = RunManager(studio.workspace)


def part(state: State, name: str, kind: type[T]) -> T:
    """``state.<name>``, checked to be a ``kind``."""
    value = getattr(state, name)
    if not isinstance(value, kind):
        raise TypeError(f"app.state.{name} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def get_settings(request: Request) -> ApiSettings:
    return part(request.app.state, "settings", ApiSettings)


def get_catalog(request: Request) -> Catalog:
    return part(request.app.state, "catalog", Catalog)


def get_log(request: Request) -> TransparencyLog:
    return part(request.app.state, "log", TransparencyLog)


def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs  # local or S3 (a Protocol: no isinstance check)
    return blobs


def get_verifier(request: Request) -> SharedVerifyContext:
    return part(request.app.state, "verifier", SharedVerifyContext)


def get_verify_slots(request: Request) -> threading.BoundedSemaphore:
    return part(request.app.state, "verify_slots", threading.BoundedSemaphore)


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
LogDep = Annotated[TransparencyLog, Depends(get_log)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
VerifierDep = Annotated[SharedVerifyContext, Depends(get_verifier)]
SlotsDep = Annotated[threading.BoundedSemaphore, Depends(get_verify_slots)]
