"""Creatives rendered on request from live variables (the spec's ``dynamic:`` section).

A render is one image job planned from a one-row audience (the live variables) in one format
and run through the batch path: :class:`CampaignRunner` generates, encodes, measures QA, signs,
fingerprints, stores the blob and logs the leaf in one transaction, all before
:meth:`DynamicRenderer.render` returns, so every served creative is in the log (write-ahead).

The job key hashes the campaign, template, format and canonical variables, so identical inputs
find the finished job in the catalog and serve its asset: same CID, no second leaf. The row's
segment name is a salted commitment to the variables and the manifest records only salted
commitments (as for audience data), so no live value is written in clear. A render that a
blocking QA rule holds stays logged (held, never exported) and the fallback is served instead.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import ValidationError

from mintloom.campaign.execute import SerialExecutor, generate_job
from mintloom.campaign.plan import Job, Plan, plan_campaign
from mintloom.campaign.qa import QAReport
from mintloom.campaign.run import CampaignRunner, RunParts, RunSummary, StageClock, _RunState, _Signed
from mintloom.campaign.spec import (
    AudioSpec,
    CopySpec,
    DynamicSpec,
    LoadedSpec,
    Segment,
    VariableProblem,
    VariableValue,
)
from mintloom.campaign.writer import BatchTransaction, CatalogWriter
from mintloom.engines.base import Engine, engine_registry
from mintloom.errors import (
    CatalogError,
    DynamicVariableError,
    LayoutError,
    NotDynamicError,
    RenderFailedError,
    RenderHeldError,
)
from mintloom.faults import crash_point
from mintloom.provenance.commitments import salted_commitment
from mintloom.store.annotations import Annotations
from mintloom.store.catalog import AssetRow, Catalog, ExportRow

KEY_CACHE = 4096
"""Canonical inputs → job key remembered per renderer (a hit then skips planning)."""

HIT_CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of served creatives kept in memory per renderer: a repeated request is then answered
without a catalog query or a blob read. A logged render never changes (its job key names its
inputs and its leaf is append-only), so a kept result cannot go stale."""

Stages = tuple[tuple[str, float], ...]
"""Seconds per named stage of one render, in order."""

Gate = Callable[[LoadedSpec], object]
"""The licence gate a render passes first (``governance.gate``, handed in from above)."""


@dataclass(frozen=True)
class RenderResult:
    """A served creative: the signed bytes and where the log has them."""

    cid: str
    log_index: int
    media_type: str
    body: bytes
    cached: bool
    """True when the inputs were rendered before (no new leaf)."""
    format: str
    rendered_at: datetime
    failed: RenderFailedError | None = None
    """Set when this is the fallback, served because the requested render failed (held by QA)."""
    stages: Stages = ()
    """Seconds per stage of a new render (waiting for the render lock, then the batch runner's
    stages); empty for a hit. Served as ``Server-Timing`` so a load test sees where a tail comes from."""


def canonical(values: Mapping[str, VariableValue], fmt: str) -> str:
    """The inputs as one canonical text (sorted keys, floats as floats): equal inputs, equal text."""
    return json.dumps({"format": fmt, "variables": dict(sorted(values.items()))}, sort_keys=True)


def _as_cell(value: VariableValue) -> str:
    """A variable as the audience cell templates read (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


class _Runner(CampaignRunner):
    """The batch runner for one render: no restore, no export, and a job another process
    finished meanwhile is not logged twice (checked under the log lock, in the transaction)."""

    exports = False
    decoded_thumbnails = False

    def __init__(self, parts: RunParts, loaded: LoadedSpec, salt: bytes, engines: dict[str, Engine]) -> None:
        super().__init__(parts, loaded, engines=engines, executor=SerialExecutor())
        self._salt = salt

    def _start(self, plan: Plan) -> _RunState:
        summary = RunSummary(self.spec.campaign, len(plan.jobs), 0)
        return _RunState(self._salt, plan.by_key(), {}, set(), len(plan.jobs), summary)

    def _commit(
        self, tx: BatchTransaction, items: list[_Signed], cid_of: dict[str, str], clock: StageClock
    ) -> list[tuple[_Signed, ExportRow]]:
        done = tx.finished({it.job.key for it in items})
        fresh = [it for it in items if it.job.key not in done]
        return super()._commit(tx, fresh, cid_of, clock) if fresh else []

    def sign_in_memory(self, job: Job) -> None:
        """Generate, measure, fingerprint and sign ``job`` without storing or logging anything
        (the warm-up: every lazy load of a render happens here, not in a request)."""
        gen = generate_job(job)
        if gen.artifact is not None:
            self._sign(self._start(Plan(campaign=self.spec.campaign, jobs=(job,))), job, gen, None)

    def _asset_row(self, it: _Signed, leaf_index: int, sidecar_cid: str | None) -> AssetRow:
        """The batch row without the rendered texts among its tags (they hold live values)."""
        row = super()._asset_row(it, leaf_index, sidecar_cid)
        tags = json.loads(row.tags)
        tags.pop("text", None)
        row.tags = json.dumps(tags, sort_keys=True)
        return row


class DynamicRenderer:
    """Renders one campaign's dynamic creatives (thread-safe; renders in a process take turns)."""

    def __init__(
        self,
        parts: RunParts,
        loaded: LoadedSpec,
        *,
        gate: Gate | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        """``lock`` serialises renders of renderers sharing ``parts`` (one per process by default)."""
        dyn = loaded.spec.dynamic
        if dyn is None:
            raise NotDynamicError(
                f"campaign {loaded.spec.campaign!r} has no dynamic: section", hint="declare its variables"
            )
        self.parts, self.loaded, self.dynamic, self.gate = parts, loaded, dyn, gate
        self.catalog = Catalog(parts.db)
        self.engines = engine_registry()
        self.salt = self._campaign_salt()
        self._lock = lock or threading.Lock()
        self._keys: OrderedDict[str, Job] = OrderedDict()
        self._keys_lock = threading.Lock()
        self._hits = _HitCache(HIT_CACHE_BYTES)

    @property
    def campaign(self) -> str:
        return self.loaded.spec.campaign

    def _campaign_salt(self) -> bytes:
        """The campaign's salt; its row is created (by the one writer) if no run made it yet."""
        row = self.catalog.campaign(self.campaign)
        if row is None:
            CatalogWriter(self.parts.db, self.parts.log).ensure_campaign(
                self.campaign, self.loaded.spec_hash, os.urandom(32)
            )
            row = self.catalog.campaign(self.campaign)
        if row is None:
            raise CatalogError(f"cannot record campaign {self.campaign!r}")
        return bytes(row.salt)

    def variables(self, given: Mapping[str, object]) -> dict[str, VariableValue]:
        """Every variable's value, ``given`` checked against the spec; the first bad one named."""
        return _resolve(self.dynamic, given)

    def format(self, name: str | None) -> str:
        allowed = self.loaded.spec.dynamic_formats()
        if name is None:
            return allowed[0]
        if name not in allowed:
            raise DynamicVariableError(
                f"format {name[:64]!r} is not a dynamic format of {self.campaign}",
                field="format",
                hint=f"one of {', '.join(allowed)}",
            )
        return name

    def render(self, given: Mapping[str, object], fmt: str | None = None) -> RenderResult:
        """The creative for these inputs: the logged one, or rendered, signed and logged now;
        the fallback (``failed`` says why) when it cannot be laid out or QA holds it."""
        name = self.format(fmt)
        values = self.variables(given)
        try:
            result = self._render(values, name)
        except LayoutError as exc:  # not logged: nothing was made
            failed = RenderFailedError(
                f"the render of {self.campaign} ({name}) cannot be laid out: a text does not fit",
                hint="the campaign's fallback creative is served instead",
            )
            return self._fallback(name, failed, exc)
        return result if result.failed is None else self._fallback(name, result.failed)

    def _fallback(self, fmt: str, failed: RenderFailedError, cause: Exception | None = None) -> RenderResult:
        fallback = self._render(self.variables(self.dynamic.fallback), fmt)
        if fallback.failed is not None:
            raise RenderHeldError(
                f"a render of {self.campaign} ({fmt}) and its fallback both fail a blocking QA rule",
                hint="fix the fallback variables or the qa: rules of the spec",
            ) from cause
        return replace(fallback, failed=failed)

    def _render(self, values: dict[str, VariableValue], fmt: str) -> RenderResult:
        laps = _Laps()
        job = self._job(values, fmt)
        if (kept := self._hits.get(job.key)) is not None:
            return kept
        hit = self.catalog.job_asset(job.key)
        if hit is not None:
            return self._hits.keep(job.key, self._result(hit, fmt, cached=True))
        laps.lap("plan")
        with self._lock:  # renders of this process take turns; others are caught at commit
            laps.lap("lock")
            hit = self.catalog.job_asset(job.key)
            cached = hit is not None
            if hit is None:
                laps.within("runner", self._generate(job, values, fmt))
                hit = self.catalog.job_asset(job.key)
        if hit is None:
            raise CatalogError(f"the render of job {job.key[:12]} left no asset")
        crash_point("dynamic.rendered")
        result = self._result(hit, fmt, cached=cached)
        self._hits.keep(job.key, replace(result, cached=True))
        laps.lap("result")
        return replace(result, stages=tuple(laps.stages))

    def _generate(self, job: Job, values: dict[str, VariableValue], fmt: str) -> Stages:
        """Render, sign and log ``job``; the seconds of each stage."""
        loaded = self._loaded(values, fmt)
        if self.gate is not None:
            self.gate(loaded)
        summary = _Runner(self.parts, loaded, self.salt, self.engines).generate(
            Plan(campaign=self.campaign, jobs=(job,))
        )
        return tuple(summary.clock.seconds.get(job.kind, {}).items())

    def warm(self) -> None:
        """Load now what a first render loads lazily (engine, fonts, the fingerprint and QA
        modules, c2pa, the catalog's statements) by making the fallback of each dynamic format
        in memory: signed, then dropped; nothing is stored or logged."""
        values = self.variables(self.dynamic.fallback)
        for fmt in self.loaded.spec.dynamic_formats():
            job = self._job(values, fmt)
            self.catalog.job_asset(job.key)
            with self._lock:
                _Runner(self.parts, self._loaded(values, fmt), self.salt, self.engines).sign_in_memory(job)

    def _job(self, values: dict[str, VariableValue], fmt: str) -> Job:
        """The one image job of these inputs (planned as the batch path plans it)."""
        text = canonical(values, fmt)
        with self._keys_lock:  # request threads share the renderer
            if (job := self._keys.get(text)) is not None:
                self._keys.move_to_end(text)
                return job
        (job,) = plan_campaign(self._loaded(values, fmt), self.engines).jobs
        with self._keys_lock:
            self._keys[text] = job
            while len(self._keys) > KEY_CACHE:
                self._keys.popitem(last=False)
        return job

    def _loaded(self, values: dict[str, VariableValue], fmt: str) -> LoadedSpec:
        """The spec narrowed to one format, the dynamic locale, images only, and one audience row
        of the live variables, named by their salted commitment (never by a value)."""
        spec = self.loaded.spec
        entry = next(f for f in spec.formats if (f if isinstance(f, str) else f.name) == fmt)
        narrowed = spec.model_copy(
            update={
                "formats": (entry,),
                "master": fmt,
                "locales": (spec.dynamic_locale(),),
                "copy_": CopySpec(),
                "audio": AudioSpec(enabled=False),
            }
        )
        seg = "dyn-" + salted_commitment(self.salt, "dynamic", canonical(values, fmt))[:32]
        row = Segment(segment=seg, row=1, variables={k: _as_cell(v) for k, v in values.items()})
        return self.loaded.model_copy(update={"spec": narrowed, "segments": (row,)})

    def _result(self, row: AssetRow, fmt: str, *, cached: bool) -> RenderResult:
        qa = Annotations(self.parts.db).qa(row.cid)
        held = None
        if qa is not None and qa.held:
            held = RenderHeldError(
                f"the render of {self.campaign} ({fmt}) fails a blocking brand-QA rule{_reasons(qa.report)}",
                hint="the campaign's fallback creative is served instead",
            )
        body = b"" if held is not None else self.parts.blobs.get(row.cid)
        return RenderResult(row.cid, row.leaf_index, row.media_type, body, cached, fmt, row.created_at, held)


def _reasons(report: str) -> str:
    """``": rule: detail; …"`` of a stored QA report's blocking failures ("" if it cannot be read)."""
    try:
        return ": " + "; ".join(QAReport.model_validate_json(report).reasons())
    except ValidationError:
        return ""


class _Laps:
    """Seconds per stage of one render, each stage from the end of the one before."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages.append((name, now - self._t))
        self._t = now

    def within(self, name: str, inner: Stages) -> None:
        """``inner``'s stages, then the rest of the time since the last lap as ``name``."""
        now = time.perf_counter()
        self.stages += inner
        self.stages.append((name, now - self._t - sum(dt for _, dt in inner)))
        self._t = now


class _HitCache:
    """Served results by job key, least recently used dropped first beyond ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, RenderResult] = OrderedDict()

    def get(self, key: str) -> RenderResult | None:
        with self._lock:
            if (kept := self._kept.get(key)) is not None:
                self._kept.move_to_end(key)
            return kept

    def keep(self, key: str, result: RenderResult) -> RenderResult:
        with self._lock:
            if key not in self._kept and len(result.body) <= self.limit:
                self._kept[key] = result
                self.size += len(result.body)
                while self.size > self.limit:
                    self.size -= len(self._kept.popitem(last=False)[1].body)
        return result


def _resolve(dyn: DynamicSpec, given: Mapping[str, object]) -> dict[str, VariableValue]:
    try:
        return dyn.resolve(given)
    except VariableProblem as exc:
        raise DynamicVariableError(
            f"variable {exc.field!r} {exc.reason}",
            field=exc.field,
            hint="see the campaign's dynamic: section",
        ) from exc
