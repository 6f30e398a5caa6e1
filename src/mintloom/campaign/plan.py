"""Expand a campaign spec into jobs with stable content keys.

The matrix is segment × locale × format for images, segment × locale × template for copy, and
one sound logo per campaign. Per segment and locale there is one *master* image (the spec's
master format); every other format is a variant derived from it (``c2pa.resized``: the same
design re-laid out, recorded as parent → child). Masters of the second and later locales are
derived from the first locale's master (``c2pa.translated``).

A job's key is the sha-256 of everything that determines its output (engine and version,
request, parent key, lineage), so an unchanged job keeps its key across runs and a resumed run
skips it, while any change to its inputs gives it a new key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mintloom.campaign.spec import TEXT_FIELDS, LoadedSpec, Segment
from mintloom.engines.base import BrandStyle, Engine, GenerationRequest
from mintloom.errors import EngineError, SpecError
from mintloom.provenance.credentials import DerivationAction
from mintloom.types import JobId

Kind = Literal["image", "copy", "audio"]


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: JobId
    kind: Kind
    engine: str
    segment: str | None
    locale: str | None
    format: str | None
    parent: JobId | None
    action: DerivationAction
    request: GenerationRequest
    template_hash: str | None
    title: str
    """Readable relative path (without extension) for the export folder."""


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign: str
    jobs: tuple[Job, ...]

    def by_key(self) -> dict[str, Job]:
        return {j.key: j for j in self.jobs}

    def count(self, kind: Kind) -> int:
        return sum(1 for j in self.jobs if j.kind == kind)


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the campaign seed and the names it is for."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big") >> 1


def _job_key(engine: Engine, request: GenerationRequest, parent: str | None, extra: dict[str, Any]) -> JobId:
    body = request.model_dump(exclude={"brand"})
    brand = request.brand.model_dump(exclude={"logo_png"})
    brand["logo"] = _sha(request.brand.logo_png) if request.brand.logo_png else None
    doc = {"engine": engine.name, "version": engine.version, "request": body, "brand": brand,
           "parent": parent, **extra}  # fmt: skip
    return JobId(_sha(json.dumps(doc, sort_keys=True, default=str)))


def render_text(
    copy_engine: Engine, template: str, seg: Segment, *, locale: str, brand: BrandStyle, field: str
) -> str:
    """Render one message template for a segment and locale with the copy engine's sandbox."""
    req = GenerationRequest(kind="copy", seed=0, locale=locale, brand=brand, texts=seg.variables,
                            params={"template": template})  # fmt: skip
    try:
        return copy_engine.generate(req).data.decode("utf-8").strip()
    except (EngineError, SpecError) as exc:
        raise SpecError(
            f"audience row {seg.row} (segment {seg.segment!r}), {locale}, {field}: {exc.message}"
        ) from exc


def plan_campaign(loaded: LoadedSpec, engines: dict[str, Engine]) -> Plan:
    spec = loaded.spec
    brand = loaded.brand_style()
    lineage = spec.lineage.model_dump()
    formats = spec.resolved_formats()
    master_fmt = next(f for f in formats if f.name == spec.master)
    image, copy_engine, audio = engines["compositor"], engines["copy"], engines["soundlogo"]
    jobs: list[Job] = []

    def add(kind: Kind, engine: Engine, request: GenerationRequest, *, parent: JobId | None,
            action: DerivationAction, segment: str | None, locale: str | None, fmt: str | None,
            title: str, template: str | None = None) -> JobId:  # fmt: skip
        th = _sha(template) if template is not None else None
        key = _job_key(
            engine, request, parent, {"lineage": lineage, "template": th, "campaign": spec.campaign}
        )
        jobs.append(Job(key=key, kind=kind, engine=engine.name, segment=segment, locale=locale,
                        format=fmt, parent=parent, action=action, request=request, template_hash=th,
                        title=title))  # fmt: skip
        return key

    first_locale = spec.locales[0]
    for seg in loaded.segments:
        first_master: JobId | None = None
        for loc in spec.locales:
            # One design per segment and locale, shared by all its formats. Locales get their own
            # background so a stripped copy's fingerprint tells translations apart.
            design_seed = derive_seed(spec.seed, spec.campaign, seg.segment, loc)
            msgs = spec.brand.messages[loc]
            texts = {
                f: render_text(copy_engine, msgs[f], seg, locale=loc, brand=brand, field=f)
                for f in TEXT_FIELDS
            }
            template_text = "\n".join(msgs[f] for f in TEXT_FIELDS)

            def image_request(fmt: Any, texts: dict[str, str] = texts, loc: str = loc,
                              design_seed: int = design_seed) -> GenerationRequest:  # fmt: skip
                return GenerationRequest(kind="image", seed=design_seed, locale=loc, brand=brand, format=fmt,
                                         texts=texts, params={"campaign": spec.campaign})  # fmt: skip

            master = add("image", image, image_request(master_fmt), parent=first_master,
                         action="c2pa.created" if first_master is None else "c2pa.translated",
                         segment=seg.segment, locale=loc, fmt=master_fmt.name,
                         title=f"{loc}/{seg.segment}/{master_fmt.name}", template=template_text)  # fmt: skip
            if loc == first_locale:
                first_master = master
            for fmt in formats:
                if fmt.name == master_fmt.name:
                    continue
                add("image", image, image_request(fmt), parent=master, action="c2pa.resized",
                    segment=seg.segment, locale=loc, fmt=fmt.name,
                    title=f"{loc}/{seg.segment}/{fmt.name}", template=template_text)  # fmt: skip
            for name, tmpl in spec.copy_.templates.items():
                req = _copy_request(loaded, copy_engine, tmpl, name, seg, locale=loc, seed=design_seed)
                add("copy", engines[spec.copy_.engine], req, parent=None, action="c2pa.created",
                    segment=seg.segment, locale=loc, fmt=None, title=f"{loc}/{seg.segment}/{name}",
                    template=tmpl)  # fmt: skip
    if spec.audio.enabled:
        req = GenerationRequest(kind="audio", seed=derive_seed(spec.seed, spec.campaign, "sound-logo"),
                                locale=first_locale, brand=brand,
                                params={"format": spec.audio.format,
                                        "seconds": spec.audio.seconds})  # fmt: skip
        add(
            "audio",
            audio,
            req,
            parent=None,
            action="c2pa.created",
            segment=None,
            locale=None,
            fmt=None,
            title="sound-logo",
        )
    _check_unique(jobs)
    return Plan(campaign=spec.campaign, jobs=tuple(jobs))


def _copy_request(
    loaded: LoadedSpec, copy_engine: Engine, template: str, name: str, seg: Segment, *, locale: str, seed: int
) -> GenerationRequest:
    """A copy job: the template rendered by the copy engine, or rendered as the prompt of a model
    engine (whose settings come from ``copy.model``)."""
    spec, brand = loaded.spec, loaded.brand_style()
    if spec.copy_.engine == "copy":
        return GenerationRequest(kind="copy", seed=seed, locale=locale, brand=brand, texts=seg.variables,
                                 params={"template": template, "name": name})  # fmt: skip
    prompt = render_text(
        copy_engine, template, seg, locale=locale, brand=brand, field=f"copy.templates.{name}"
    )
    params: dict[str, str | int | float | bool] = {**spec.copy_.model, "prompt": prompt, "name": name}
    if "model_path" in params:  # relative to the spec file, absolute in the job (workers run anywhere)
        params["model_path"] = str((loaded.path.parent / str(params["model_path"])).resolve())
    return GenerationRequest(kind="copy", seed=seed, locale=locale, brand=brand, params=params)


def _check_unique(jobs: list[Job]) -> None:
    seen: set[str] = set()
    for j in jobs:
        if j.key in seen:
            raise SpecError(f"two jobs would produce the same asset ({j.title}): make segments distinct")
        seen.add(j.key)


def ordered(jobs: list[Job]) -> Iterator[Job]:
    """Parents before children (masters first), so variants can be signed as soon as they finish."""
    depth: dict[str, int] = {}
    by_key = {j.key: j for j in jobs}

    def d(j: Job) -> int:
        if j.key not in depth:
            depth[j.key] = 0 if j.parent is None or j.parent not in by_key else 1 + d(by_key[j.parent])
        return depth[j.key]

    yield from sorted(jobs, key=d)
