"""The render service behind ``/campaigns/{campaign}/render``: the workspace's renderers
(:mod:`mintloom.dynamic`, opened with the key password of the server's environment), a token
bucket per token, errors as HTTP statuses, and the background anchorer
(:mod:`mintloom.api.anchorer`) started and stopped with the app."""

from __future__ import annotations

import fcntl
import gc
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mintloom.api.anchorer import Anchorer
from mintloom.api.errors import BusyError, InvalidInputError, NotFoundError, UnavailableError
from mintloom.api.runs import PASSWORD_ENV
from mintloom.config import DynamicSettings
from mintloom.dynamic import DynamicRenderers, RenderResult, check_url
from mintloom.errors import DynamicVariableError, NotDynamicError
from mintloom.workspace import Workspace


class RateLimitedError(BusyError):
    """The token sent more renders than its rate allows: retry after ``Retry-After`` seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per client: ``rate`` renders a second, ``burst`` at once."""

    rate: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str) -> None:
        """Spend one render of ``client``'s bucket, or :class:`RateLimitedError`."""
        now = time.monotonic()
        with self._lock:
            b = self._buckets.setdefault(client, _Bucket(float(self.burst), now))
            b.tokens = min(float(self.burst), b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens < 1.0:
                wait = max(1, math.ceil((1.0 - b.tokens) / self.rate))
                raise RateLimitedError("too many render requests for this token", retry_after=wait,
                                       hint=f"at most {self.rate:g} renders a second")  # fmt: skip
            b.tokens -= 1.0


class RenderService:
    """What the render routes use (see the module docstring); renderers opened on first use."""

    def __init__(self, workspace: Workspace, settings: DynamicSettings) -> None:
        self.workspace = workspace
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_per_second, settings.burst)
        self._lock = threading.Lock()
        self._renderers: DynamicRenderers | None = None
        self.anchorer: Anchorer | None = None

    def renderers(self) -> DynamicRenderers:
        with self._lock:
            if self._renderers is None:
                password = os.environ.get(PASSWORD_ENV)
                if not password:
                    raise UnavailableError("this server cannot render: it has no key password",
                                           hint=f"start it with {PASSWORD_ENV} set")  # fmt: skip
                self._renderers = DynamicRenderers(self.workspace, self.settings, password)
            return self._renderers

    def render(
        self, campaign: str, client: str, variables: dict[str, object], fmt: str | None
    ) -> RenderResult:
        """A ``POST`` render of a token named ``client``: rate-limited, then validated and rendered."""
        self.limiter.take(client)
        with _translated():
            return self.renderers().render(campaign, variables, fmt)

    def render_url(self, campaign: str, params: Sequence[tuple[str, str]]) -> RenderResult:
        """A signed URL's render: signature and expiry checked before anything else."""
        with _translated():
            rest = check_url(self.workspace, campaign, params)
            # one bucket per signed URL: one ad server's URL cannot starve the campaign's others
            self.limiter.take("url:" + next((v for k, v in params if k == "sig"), campaign))
            return self.renderers().render_url(campaign, rest)

    @contextmanager
    def anchoring(self) -> Iterator[Anchorer | None]:
        """While the app serves: the renderers warmed first, the background anchorer when
        campaigns are rendered here, the server has the key password and ``dynamic.anchorer`` is
        on (its first anchor's loads done before serving too), then :func:`_freeze`."""
        password = os.environ.get(PASSWORD_ENV)
        ready = bool(self.settings.campaigns and password)
        try:
            if ready:
                self.renderers().warm()
            with self._anchorer(password if self.settings.anchorer else None) as anchorer:
                if ready:
                    _freeze()
                yield anchorer
        finally:
            gc.unfreeze()  # the app is done: what it kept alive may be collected again
            self.close()  # the renderers' writing studio, with or without an anchorer

    @contextmanager
    def _anchorer(self, password: str | None) -> Iterator[Anchorer | None]:
        """The started anchorer, if this process runs it (one worker of ``serve --workers``)."""
        if not (self.settings.campaigns and password):
            yield None
            return
        with anchorer_lock(self.workspace.state_dir / "anchorer.lock") as mine:
            if not mine:  # another worker of this server anchors
                yield None
                return
            self.anchorer = Anchorer(self.workspace, self.settings, password)
            self.anchorer.start()
            try:
                yield self.anchorer
            finally:
                self.anchorer.stop()

    def close(self) -> None:
        if self._renderers is not None:
            self._renderers.close()


def _freeze() -> None:
    """Move every object alive now (the modules, engines, fonts, keys, the anchorer's chain
    client) out of the collector's sight: a full collection then walks only what requests
    allocate (unfrozen, one took ~0.4 s, a render's p99 on its own)."""
    gc.collect()
    gc.freeze()


@contextmanager
def anchorer_lock(path: Path) -> Iterator[bool]:
    """True while this server holds ``path``'s lock: of the processes serving one workspace
    (``serve --workers``), only that one runs the anchorer. Released when the process dies."""
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def _translated() -> Iterator[None]:
    """A variable that does not fit: 422 naming it (nothing rendered); an unknown campaign: 404."""
    try:
        yield
    except DynamicVariableError as exc:
        raise InvalidInputError(exc.message, hint=exc.hint) from exc
    except NotDynamicError as exc:
        raise NotFoundError(exc.message, hint=exc.hint) from exc
