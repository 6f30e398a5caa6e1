"""The workspace side of rendering on request, for front ends (``mintloom serve``): one writing
studio, a :class:`~mintloom.campaign.dynamic.DynamicRenderer` per campaign listed under
``[dynamic.campaigns]`` (renders of the process take turns through one lock), the licence gate per
render, and signed render URLs checked and typed before anything is rendered."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence

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
from mintloom.errors import ConfigError, DynamicVariableError, MintloomError, NotDynamicError, SpecError
from mintloom.store.files import contained
from mintloom.studio import Studio
from mintloom.workspace import Workspace

__all__ = ["DynamicRenderers", "RenderResult", "check_url"]

logger = logging.getLogger(__name__)

_INT = re.compile(r"^-?[0-9]{1,18}$")


class DynamicRenderers:
    """The renderers of one workspace, opened on first use with the key ``password``."""

    def __init__(self, workspace: Workspace, settings: DynamicSettings, password: str) -> None:
        self.workspace, self.settings, self.password = workspace, settings, password
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._studio: Studio | None = None
        self._renderers: dict[str, DynamicRenderer] = {}

    def renderer(self, campaign: str) -> DynamicRenderer:
        """The campaign's renderer; :class:`NotDynamicError` for one not rendered here."""
        with self._lock:
            if (r := self._renderers.get(campaign)) is not None:
                return r
            spec = self.settings.campaigns.get(campaign)
            if spec is None:
                raise NotDynamicError(f"campaign {campaign[:64]!r} is not rendered on request here",
                                      hint="list it under [dynamic.campaigns] in mintloom.toml")  # fmt: skip
            studio = self._open()
            try:
                loaded = load_spec(contained(self.workspace.root, self.workspace.root / spec))
            except SpecError as exc:  # its message names server paths: not for the caller
                raise ConfigError(f"the spec listed for campaign {campaign[:64]!r} does not load",
                                  hint="check it with `mintloom plan` on the server") from exc  # fmt: skip
            if loaded.spec.campaign != campaign:
                raise NotDynamicError(
                    f"the spec listed for {campaign!r} is campaign {loaded.spec.campaign!r}"
                )
            r = DynamicRenderer(studio.run_parts(), loaded, gate=self._gate, lock=self._render_lock)
            self._renderers[campaign] = r
            return r

    def _open(self) -> Studio:
        if self._studio is None:
            self._studio = Studio(self.workspace, password=self.password)
            self._studio.ensure_keys()
        return self._studio

    def _gate(self, loaded: LoadedSpec) -> None:
        """The licence gate of the pipeline, per render (touches the chain only for a lineage)."""
        lineage = loaded.spec.lineage
        if not (lineage.datasets or lineage.model):
            return
        from mintloom.governance.gate import check_lineage

        studio = self._open()
        check_lineage(studio.chain, studio.db, loaded.spec)

    def open_all(self) -> list[DynamicRenderer]:
        """Every listed campaign's renderer that opens. One that cannot is logged by its error's
        name and left to answer its requests with that error."""
        opened = []
        for campaign in self.settings.campaigns:
            try:
                opened.append(self.renderer(campaign))
            except MintloomError as exc:
                logger.warning("campaign %r not opened (%s): %s", campaign, type(exc).__name__, exc.message)
        return opened

    def warm(self) -> None:
        """Open and warm the renderers (:meth:`DynamicRenderer.warm`): no request then pays a
        first render's lazy loads."""
        for renderer in self.open_all():
            try:
                renderer.warm()
            except MintloomError as exc:
                logger.warning(
                    "campaign %r not warmed (%s): %s", renderer.campaign, type(exc).__name__, exc.message
                )

    def render(self, campaign: str, variables: dict[str, object], fmt: str | None) -> RenderResult:
        return self.renderer(campaign).render(variables, fmt)

    def render_url(self, campaign: str, params: list[tuple[str, str]]) -> RenderResult:
        """The render of a checked URL's parameters, typed as the campaign declares them."""
        renderer = self.renderer(campaign)
        fmts = [v for k, v in params if k == "format"]
        values = [(k, v) for k, v in params if k != "format"]
        if len(fmts) > 1 or len({k for k, _ in values}) != len(values):
            raise DynamicVariableError("a render URL names a parameter twice", field="query")
        typed = {k: _typed(renderer.dynamic, k, v) for k, v in values}
        return renderer.render(typed, fmts[0] if fmts else None)

    def close(self) -> None:
        if self._studio is not None:
            self._studio.close()
            self._studio = None


def check_url(
    workspace: Workspace, campaign: str, params: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """A signed URL's parameters once its signature and expiry hold (checking never writes)."""
    return check_query(url_key(workspace.state_dir, create=False), campaign, params)


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
