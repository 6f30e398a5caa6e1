"""The render service behind ``/campaigns/{campaign}/render``: one writing studio (the key password
of the server's environment), a :class:`~mintloom.campaign.dynamic.DynamicRenderer` per campaign
named in ``dynamic.campaigns``, the licence gate per render, a token bucket per token, and the
background anchorer (:mod:`mintloom.api.anchorer`) started and stopped with the app."""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from mintloom.api.anchorer import Anchorer
from mintloom.api.errors import BusyError, InvalidInputError, NotFoundError, UnavailableError
from mintloom.api.runs import PASSWORD_ENV
from mintloom.campaign.dynamic import DynamicRenderer, RenderResult
from mintloom.campaign.render_url import check_query, url_key
from mintloom.campaign.spec import (
    BoolVariable,
    DynamicSpec,
    FloatVariable,
    IntVariable,
    LoadedSpec,
    load_spec,
)
from mintloom.config import DynamicSettings
from mintloom.errors import DynamicVariableError, NotDynamicError
from mintloom.store.files import contained
from mintloom.studio import Studio
from mintloom.workspace import Workspace

_INT = re.compile(r"^-?[0-9]{1,18}$")


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
    """What the render routes use (see the module docstring); opened on first use."""

    def __init__(self, workspace: Workspace, settings: DynamicSettings) -> None:
        self.workspace = workspace
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_per_second, settings.burst)
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._studio: Studio | None = None
        self._renderers: dict[str, DynamicRenderer] = {}
        self.anchorer: Anchorer | None = None

    def password(self) -> str:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise UnavailableError("this server cannot render: it has no key password",
                                   hint=f"start it with {PASSWORD_ENV} set")  # fmt: skip
        return password

    def renderer(self, campaign: str) -> DynamicRenderer:
        """The campaign's renderer; 404 for a campaign the server does not render."""
        with self._lock:
            if (r := self._renderers.get(campaign)) is not None:
                return r
            spec = self.settings.campaigns.get(campaign)
            if spec is None:
                raise NotFoundError(f"campaign {campaign[:64]!r} is not rendered on request here",
                                    hint="list it under [dynamic.campaigns] in mintloom.toml")  # fmt: skip
            studio = self._open()
            loaded = load_spec(contained(self.workspace.root, self.workspace.root / spec))
            if loaded.spec.campaign != campaign:
                raise NotFoundError(f"the spec listed for {campaign!r} is campaign {loaded.spec.campaign!r}")
            try:
                r = DynamicRenderer(studio.run_parts(), loaded, gate=self._gate, lock=self._render_lock)
            except NotDynamicError as exc:
                raise NotFoundError(exc.message, hint=exc.hint) from exc
            self._renderers[campaign] = r
            return r

    def _open(self) -> Studio:
        if self._studio is None:
            self._studio = Studio(self.workspace, password=self.password())
            self._studio.ensure_keys()
        return self._studio

    def _gate(self, loaded: LoadedSpec) -> None:
        """The licence gate of the pipeline, per render (touches the chain only for a lineage)."""
        lineage = loaded.spec.lineage
        if not (lineage.datasets or lineage.model):
            return
        from mintloom.governance.gate import check_lineage

        assert self._studio is not None
        check_lineage(self._studio.chain, self._studio.db, loaded.spec)

    def render(
        self, campaign: str, client: str, variables: dict[str, object], fmt: str | None
    ) -> RenderResult:
        """A ``POST`` render of a token named ``client``: rate-limited, then validated and rendered."""
        self.limiter.take(client)
        return _render(self.renderer(campaign), variables, fmt)

    def render_url(self, campaign: str, params: Sequence[tuple[str, str]]) -> RenderResult:
        """A signed URL's render: signature and expiry checked before anything else."""
        rest = check_query(url_key(self.workspace.state_dir), campaign, params)
        self.limiter.take(f"url:{campaign}")
        renderer = self.renderer(campaign)
        fmts = [v for k, v in rest if k == "format"]
        values = [(k, v) for k, v in rest if k != "format"]
        if len(fmts) > 1 or len({k for k, _ in values}) != len(values):
            raise InvalidInputError("a render URL names a parameter twice")
        typed = {k: _typed(renderer.dynamic, k, v) for k, v in values}
        return _render(renderer, typed, fmts[0] if fmts else None)

    @contextmanager
    def anchoring(self) -> Iterator[Anchorer | None]:
        """The background anchorer while the app serves: when campaigns are rendered here, the
        server has the key password and ``dynamic.anchorer`` is on."""
        password = os.environ.get(PASSWORD_ENV)
        if not (self.settings.anchorer and self.settings.campaigns and password):
            yield None
            return
        self.anchorer = Anchorer(self.workspace, self.settings, password)
        self.anchorer.start()
        try:
            yield self.anchorer
        finally:
            self.anchorer.stop()
            self.close()

    def close(self) -> None:
        if self._studio is not None:
            self._studio.close()
            self._studio = None


def _render(renderer: DynamicRenderer, variables: dict[str, object], fmt: str | None) -> RenderResult:
    """The render; a variable that does not fit is a 422 naming it, before anything is rendered."""
    try:
        return renderer.render(variables, fmt)
    except DynamicVariableError as exc:
        raise InvalidInputError(exc.message, hint=exc.hint) from exc


def _typed(dyn: DynamicSpec, name: str, raw: str) -> object:
    """A URL's text as the JSON value its declaration expects (left as text when it does not
    parse, so the check that follows names the field)."""
    decl = dyn.variables.get(name)
    if isinstance(decl, BoolVariable):
        return {"true": True, "false": False}.get(raw, raw)
    if isinstance(decl, IntVariable):
        return int(raw) if _INT.match(raw) else raw
    if isinstance(decl, FloatVariable):
        try:
            return float(raw) if len(raw) <= 32 else raw
        except ValueError:
            return raw
    return raw
