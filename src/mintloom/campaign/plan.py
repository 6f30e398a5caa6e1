"""Expand a campaign spec into jobs with stable content keys.

The matrix is segment × locale × format for images, segment × locale × template for copy, and
one sound logo per campaign. Per segment and locale there is one *master* image (the spec's
master format); every other format is a variant derived from it (``c2pa.resized``: the same
design re-laid out, recorded as parent → child). Masters of the second and later locales are
derived from the first locale's master (``c2pa.translated``).

A job's key is the sha-256 of everything that determines its output (engine and version,
request with its typed parameters: templates and the variables they read, seed, format, brand;
parent key, lineage), so an unchanged job keeps its key across runs and a resumed run skips it,
while any change to its inputs gives it a new key.

Planning renders nothing: templates are parsed (to find the variables they read and refuse a
missing one early) and travel to the engines unrendered; each engine renders once, when it
generates.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mintloom.campaign.spec import TEXT_FIELDS, LoadedSpec, Segment
from mintloom.engines.base import BrandStyle, Engine, Format, GenerationRequest
from mintloom.engines.copy import template_variables
from mintloom.engines.params import (
    AudioParams,
    CaptionParams,
    CopyTemplate,
    DiffusionParams,
    EngineParams,
    ImageParams,
    ImagesApiParams,
    ParamValue,
)
from mintloom.errors import CopyTemplateError, SpecError
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
    caption: CaptionParams | None = None
    """An image's captioning model (the spec's ``captions``): the worker captions the picture it
    made, for the alt text (metadata, not design: not part of the key, like ``rights``)."""
    source_locale: str | None = None
    """The locale a translated master was translated from (its parent's)."""


class PlannedJob(NamedTuple):
    """A job as the plan holds it until it is run: its key and the few names it is made from
    (~0.3 KB; the whole :class:`Job` with its request is ~3.4 KB, ~67 MB held at 20k jobs).
    :meth:`Plan.job` builds the :class:`Job` when it is sent to a worker."""

    key: JobId
    kind: Kind
    parent: JobId | None
    action: DerivationAction
    seed: int
    locale: str
    row: Segment | None
    """The audience row (the sound logo has none)."""
    fmt: Format | None
    template: str | None
    """The copy template's name (copy jobs)."""

    @property
    def title(self) -> str:
        if self.row is None:
            return "sound-logo"
        leaf = self.fmt.name if self.fmt is not None else self.template
        return f"{self.locale}/{self.row.segment}/{leaf}"


class _Keyed(Protocol):
    @property
    def key(self) -> JobId: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def parent(self) -> JobId | None: ...
    @property
    def title(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


class Plan:
    """The jobs of a campaign, in plan order: planned ones (:class:`PlannedJob`, built into a
    :class:`Job` on demand, so a run holds the jobs in flight, not all of them) or given ones."""

    def __init__(
        self,
        campaign: str,
        jobs: Sequence[Job] = (),
        *,
        planned: Sequence[PlannedJob] = (),
        planner: _Planner | None = None,
    ) -> None:
        self.campaign = campaign
        self.entries: tuple[PlannedJob | Job, ...] = (*jobs, *planned)
        self._planner = planner

    def __len__(self) -> int:
        return len(self.entries)

    def job(self, entry: PlannedJob | Job) -> Job:
        """The whole job of a plan entry (built anew each call: the caller holds it)."""
        if isinstance(entry, Job):
            return entry
        assert self._planner is not None
        return self._planner.build(entry)

    @property
    def jobs(self) -> tuple[Job, ...]:
        """Every job built: for small plans (tests, one render); a run builds them one by one."""
        return tuple(self.job(e) for e in self.entries)

    def by_key(self) -> dict[str, Job]:
        return {j.key: j for j in self.jobs}

    def count(self, kind: Kind) -> int:
        return sum(1 for j in self.entries if j.kind == kind)


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the campaign seed and the names it is for."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big") >> 1


_json = json.JSONEncoder(sort_keys=True, default=str).encode
"""``json.dumps(value, sort_keys=True, default=str)``, without making an encoder per call."""


@functools.lru_cache(maxsize=256)
def _name(key: str) -> str:
    return encode_basestring_ascii(key)


def _text(value: str | None) -> str:
    """``_json`` of a string or None, without the encoder's dispatch (a few per job)."""
    return "null" if value is None else encode_basestring_ascii(value)


def encoded_fields(params: EngineParams) -> dict[str, str]:
    """The parameters' part of a job key (:meth:`EngineParams.key_fields`), each value as JSON."""
    return {k: _json(v) for k, v in params.key_fields().items()}


@functools.lru_cache(maxsize=1024)
def _template_hash(template: str) -> str:
    return _sha(template)


def _layout(fixed: Mapping[str, str], names: Sequence[str]) -> str:
    """A format string whose ``.format(*values)`` is what ``json.dumps(doc, sort_keys=True)``
    writes for the document of ``fixed`` (each value's JSON) and ``names`` (their JSON given as
    ``values``, in that order): the keys are sorted and the fixed JSON placed once, so a job key
    costs one ``str.format`` per document instead of encoding it (the text, so every key, stays
    the same)."""
    slots = {k: f"{{{i}}}" for i, k in enumerate(names)}
    pairs = [f"{_escaped(_name(k))}: {slots.get(k) or _escaped(fixed[k])}" for k in sorted({*fixed, *names})]
    return "{{" + ", ".join(pairs) + "}}"


def _escaped(text: str) -> str:
    """``text`` as literal text of a format string."""
    return text.replace("{", "{{").replace("}", "}}")


@dataclass
class _KeyHasher:
    """Job keys: the sha-256 of the sorted JSON of a document of everything that determines the
    job's output. Brand, lineage and campaign are the same for every job of a spec, a format for
    every segment: their JSON is made once (encoding it per job was most of planning's time)."""

    shared: dict[str, str]
    formats: dict[tuple[str, int, int, str], str] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)
    """Per engine, the :func:`_layout` of a key's document (its parent, request and template)."""
    requests: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Per set of parameter fields, the :func:`_layout` of a request."""

    @classmethod
    def for_spec(cls, brand: BrandStyle, lineage: dict[str, Any], campaign: str) -> _KeyHasher:
        doc = brand.model_dump(exclude={"logo_png"})
        doc["logo"] = _sha(brand.logo_png) if brand.logo_png else None
        return cls({"brand": _json(doc), "lineage": _json(lineage), "campaign": _json(campaign)})

    def key(
        self,
        engine: Engine,
        request: tuple[Kind, int, str, Format | None],
        parent: str | None,
        template_hash: str | None,
        fields: dict[str, str],
    ) -> JobId:
        """``request``: its kind, seed, locale and format; ``fields``: :func:`encoded_fields` of
        its parameters."""
        kind, seed, locale, fmt = request
        names = tuple(fields)
        if (body := self.requests.get(names)) is None:
            body = self.requests[names] = _layout({}, ("kind", "seed", "locale", "format", *names))
        text = body.format(_text(kind), int(seed), _text(locale), self._format(fmt), *fields.values())
        doc = self._engine(engine).format(_text(parent), text, _text(template_hash))
        return JobId(_sha(doc))

    def _engine(self, engine: Engine) -> str:
        """The layout of the document with the shared parts and the engine's name and version."""
        if engine.name not in self.engines:
            named = {"engine": _json(engine.name), "version": _json(engine.version)}
            self.engines[engine.name] = _layout({**self.shared, **named}, ("parent", "request", "template"))
        return self.engines[engine.name]

    def _format(self, fmt: Format | None) -> str:
        if fmt is None:
            return "null"
        known = (fmt.name, fmt.width, fmt.height, fmt.encoding)
        if known not in self.formats:  # defaults left out: a PNG keys as before formats had an encoding
            self.formats[known] = _json(fmt.model_dump(exclude_defaults=True))
        return self.formats[known]


@functools.lru_cache(maxsize=1024)
def _template_variables(source: str, field: str) -> tuple[frozenset[str], frozenset[str]]:
    """A template's variables, parsed once per spec (not once per audience row: a spec has a few
    templates and up to 100k rows)."""
    return template_variables(source, what=field)


def needed_variables(source: str, seg: Segment, *, locale: str, field: str) -> dict[str, ParamValue]:
    """The audience variables a template reads (it is parsed, never rendered); a variable it
    needs that the segment's row lacks is a :class:`SpecError` naming row, locale and field."""
    where = f"audience row {seg.row} (segment {seg.segment!r}), {locale}, {field}"
    try:
        required, optional = _template_variables(source, field)
    except CopyTemplateError as exc:
        raise SpecError(f"{where}: {exc.message}") from exc
    missing = sorted(required - seg.variables.keys())
    if missing:
        raise SpecError(
            f"{where}: the template uses {missing[0]!r}, which the audience row does not have",
            hint="add the column to the audience, or guard it with 'is defined'",
        )
    return {k: seg.variables[k] for k in sorted(required | optional) if k in seg.variables}


@dataclass(frozen=True)
class _Messages:
    """A locale's brand messages (headline, body, cta), parsed once per spec."""

    texts: dict[str, str]
    reads: tuple[str, ...]
    """The variables they read, in the order an image job's parameters list them."""
    required: frozenset[str]
    params: str | None
    """The :func:`_layout` of the image parameters' JSON with every field but ``variables``
    filled in (all rows share them); None when a row's parameters differ in more (a hero)."""
    variables: str
    """The :func:`_layout` of the variables' JSON when every one read is there."""
    template: str
    """The three texts as image job keys hash them."""

    @functools.cached_property
    def sorted_reads(self) -> list[str]:
        return sorted(self.reads)

    @functools.cached_property
    def template_hash(self) -> str:
        return _template_hash(self.template)


def _shared_parts(params: ImageParams) -> dict[str, str] | None:
    """Each field of ``params``'s key document as JSON, but ``variables`` (see ``_Messages.shared``)."""
    fields = params.key_fields()
    doc = fields.get("params")
    if set(fields) != {"params"} or not isinstance(doc, dict):
        return None
    return {k: _json(v) for k, v in doc.items() if k != "variables"}


@dataclass
class _Planner:
    """The jobs of one spec, added in plan order; :meth:`build` makes a planned job whole."""

    loaded: LoadedSpec
    engines: dict[str, Engine]
    entries: list[PlannedJob] = field(default_factory=list)
    messages: dict[str, _Messages] = field(default_factory=dict)
    rounds: Mapping[str, int] = field(default_factory=dict)
    """Review rounds by design (``template/locale``): a rejected design is drawn with a new seed."""

    def reseed(self, seed: int, design: str) -> int:
        """``seed`` itself until a reviewer rejects the design, then one new seed per round."""
        rnd = self.rounds.get(design, 0)
        return seed if rnd == 0 else derive_seed(seed, "review", rnd)

    @functools.cached_property
    def brand(self) -> BrandStyle:
        return self.loaded.brand_style()

    @functools.cached_property
    def keys(self) -> _KeyHasher:
        spec = self.loaded.spec
        return _KeyHasher.for_spec(self.brand, spec.lineage.model_dump(), spec.campaign)

    @functools.cached_property
    def formats(self) -> tuple[Format, list[Format]]:
        """The master format and the others (variants), resolved once per spec."""
        formats = self.loaded.spec.resolved_formats()
        master = next(f for f in formats if f.name == self.loaded.spec.master)
        return master, [f for f in formats if f.name != master.name]

    def add(self, engine: Engine, entry: PlannedJob, template: str | None, fields: dict[str, str]) -> None:
        """Add a job (``entry`` without its key): ``fields`` is :func:`encoded_fields` of its
        parameters, ``template`` the template text its key hashes."""
        th = _template_hash(template) if template is not None else None
        key = self.keys.key(
            engine, (entry.kind, entry.seed, entry.locale, entry.fmt), entry.parent, th, fields
        )
        self.entries.append(entry._replace(key=key))

    @functools.cached_property
    def caption(self) -> CaptionParams | None:
        """The spec's ``captions`` as the captioning engine's parameters (the folder made absolute)."""
        captions = self.loaded.spec.captions
        if captions is None:
            return None
        return CaptionParams(
            model_path=str((self.loaded.path.parent / captions.model_path).resolve()),
            model_id=captions.model_id,
            max_new_tokens=captions.max_new_tokens,
        )

    def segment(self, seg: Segment) -> None:
        """Per locale: the master image, its variants in the other formats, the copy texts."""
        spec = self.loaded.spec
        first_master: JobId | None = None
        for loc in spec.locales:
            # One design per segment and locale, shared by all its formats. Locales get their own
            # background so a stripped copy's fingerprint tells translations apart.
            seed = derive_seed(spec.seed, spec.campaign, seg.segment, loc)
            master = self.images(seg, loc, self.reseed(seed, f"image/{loc}"), first_master)
            first_master = first_master or master
            for name, tmpl in spec.copy_.templates.items():
                self.copy(seg, loc, self.reseed(seed, f"copy.{name}/{loc}"), name, tmpl)

    def images(self, seg: Segment, loc: str, seed: int, first_master: JobId | None) -> JobId:
        """The master image for a segment and locale, then its variants; the master's key."""
        image = self.engines["compositor"]
        fields = self._image_fields(seg, loc)  # the master's and its variants'
        th = self._messages(seg, loc).template_hash
        master_fmt, variants = self.formats
        action: DerivationAction = "c2pa.created" if first_master is None else "c2pa.translated"
        master = self.keys.key(image, ("image", seed, loc, master_fmt), first_master, th, fields)
        self.entries.append(
            PlannedJob(master, "image", first_master, action, seed, loc, seg, master_fmt, None)
        )
        for fmt in variants:
            key = self.keys.key(image, ("image", seed, loc, fmt), master, th, fields)
            self.entries.append(PlannedJob(key, "image", master, "c2pa.resized", seed, loc, seg, fmt, None))
        return master

    def _image_fields(self, seg: Segment, loc: str) -> dict[str, str]:
        """:func:`encoded_fields` of the image parameters of a segment and locale: the locale's
        share is laid out once, the row's variables encoded per row (the same text, faster)."""
        msgs = self._messages(seg, loc)
        if msgs.params is None:  # a hero layer: its prompt's variables are per row too
            return encoded_fields(self._image_params(seg, loc))
        row = seg.variables
        if not msgs.required <= row.keys():
            for f, source in msgs.texts.items():  # refuses the row, naming the field that misses one
                needed_variables(source, seg, locale=loc, field=f)
        try:  # every variable read, as text: the common case, laid out
            variables = msgs.variables.format(*[encode_basestring_ascii(row[k]) for k in msgs.sorted_reads])
        except (KeyError, TypeError):  # an optional one missing, or a value that is not text
            variables = _json({k: row[k] for k in msgs.reads if k in row})
        return {"params": msgs.params.format(variables)}

    def _image_params(self, seg: Segment, loc: str) -> ImageParams:
        """The locale's brand messages with the variables they read from the segment's row."""
        msgs = self._messages(seg, loc)
        row = seg.variables
        if not msgs.required <= row.keys():
            for f, source in msgs.texts.items():  # refuses the row, naming the field that misses one
                needed_variables(source, seg, locale=loc, field=f)
        spec = self.loaded.spec
        return ImageParams(
            **msgs.texts,
            variables={k: row[k] for k in msgs.reads if k in row},
            campaign=spec.campaign,
            messages_model=spec.brand.messages_model,
            hero=self._hero(seg, loc),
        )

    def _hero(self, seg: Segment, loc: str) -> DiffusionParams | ImagesApiParams | None:
        """The hero layer's parameters: its prompt template with the audience variables it reads,
        and ``brand.hero.model`` validated against the engine's parameter model."""
        hero = self.loaded.spec.brand.hero
        if hero is None:
            return None
        variables = needed_variables(hero.prompt, seg, locale=loc, field="brand.hero.prompt")
        template = CopyTemplate(source=hero.prompt, variables=variables, name="hero")
        settings: dict[str, object] = {**hero.model, "prompt": template}
        if "model_path" in settings:  # relative to the spec file, absolute in the job
            settings["model_path"] = str((self.loaded.path.parent / str(settings["model_path"])).resolve())
        model = DiffusionParams if hero.engine == "diffusers" else ImagesApiParams
        try:
            return model.model_validate(settings)
        except ValidationError as exc:
            known = ", ".join(sorted(set(model.model_fields) - {"prompt"}))
            raise SpecError(
                f"brand.hero.model does not fit the {hero.engine} engine: {_first_error(exc)}",
                hint=f"the settings it takes: {known}",
            ) from exc

    def _messages(self, seg: Segment, loc: str) -> _Messages:
        """A locale's brand messages and the variables they read, worked out at its first row."""
        if loc not in self.messages:
            spec = self.loaded.spec
            texts = {f: spec.brand.messages[loc][f] for f in TEXT_FIELDS}
            reads: dict[str, None] = {}
            need: set[str] = set()
            for f, source in texts.items():
                needed_variables(source, seg, locale=loc, field=f)  # refused naming the row: bad template
                required, optional = _template_variables(source, f)
                reads.update(dict.fromkeys(sorted(required | optional)))
                need |= required
            shared = None
            if spec.brand.hero is None:  # what every row's parameters share, each value as JSON
                params = ImageParams(
                    **texts, campaign=spec.campaign, messages_model=spec.brand.messages_model
                )
                shared = _shared_parts(params)
            template = "\n".join(texts[f] for f in TEXT_FIELDS)
            self.messages[loc] = _Messages(
                texts,
                tuple(reads),
                frozenset(need),
                None if shared is None else _layout(shared, ("variables",)),
                _layout({}, sorted(reads)),
                template,
            )
        return self.messages[loc]

    def copy(self, seg: Segment, loc: str, seed: int, name: str, source: str) -> None:
        """A copy job: the template for the copy engine, or the prompt of a model engine."""
        params = self._copy_params(seg, loc, name, source)
        entry = PlannedJob(JobId(""), "copy", None, "c2pa.created", seed, loc, seg, None, name)
        self.add(self._copy_engine(), entry, source, encoded_fields(params))

    def _copy_params(self, seg: Segment, loc: str, name: str, source: str) -> EngineParams:
        """The copy engine's parameters: the template, and ``copy.model`` validated against the
        engine's parameter model."""
        engine = self._copy_engine()
        needed_variables(source, seg, locale=loc, field=f"copy.templates.{name}")
        # the whole row, as copy job keys always hashed it (so they stay what they were)
        template = CopyTemplate(source=source, variables=dict(seg.variables), name=name)
        settings: dict[str, object] = {**self.loaded.spec.copy_.model, "template": template}
        if "model_path" in settings:  # relative to the spec file, absolute in the job (workers run anywhere)
            settings["model_path"] = str((self.loaded.path.parent / str(settings["model_path"])).resolve())
        try:
            return engine.params_type.model_validate(settings)
        except ValidationError as exc:
            known = ", ".join(sorted(set(engine.params_type.model_fields) - {"template"})) or "none"
            raise SpecError(
                f"copy.model does not fit the {engine.name} engine: {_first_error(exc)}",
                hint=f"the settings it takes: {known}",
            ) from exc

    def sound_logo(self) -> None:
        spec = self.loaded.spec
        seed = self.reseed(derive_seed(spec.seed, spec.campaign, "sound-logo"), "audio/-")
        entry = PlannedJob(JobId(""), "audio", None, "c2pa.created", seed, spec.locales[0], None, None, None)
        self.add(self.engines["soundlogo"], entry, None, encoded_fields(self._audio_params()))

    def _audio_params(self) -> AudioParams:
        audio = self.loaded.spec.audio
        return AudioParams(format=audio.format, seconds=audio.seconds)

    def _copy_engine(self) -> Engine:
        name = self.loaded.spec.copy_.engine
        if name not in self.engines:
            raise SpecError(
                f"copy.engine {name!r} is not an installed engine",
                hint=f"installed: {', '.join(sorted(self.engines))}",
            )
        return self.engines[name]

    # -- whole jobs -------------------------------------------------------------------------------
    def build(self, entry: PlannedJob) -> Job:
        """The :class:`Job` of a planned entry: its request made as planning hashed it."""
        if entry.kind == "audio":
            return self._job(entry, self.engines["soundlogo"], self._audio_params(), None, segment=None)
        seg = entry.row
        assert seg is not None
        if entry.kind == "copy":
            assert entry.template is not None
            source = self.loaded.spec.copy_.templates[entry.template]
            params = self._copy_params(seg, entry.locale, entry.template, source)
            return self._job(entry, self._copy_engine(), params, source, segment=seg.segment)
        params = self._image_params(seg, entry.locale)
        template = self._messages(seg, entry.locale).template
        return self._job(entry, self.engines["compositor"], params, template, segment=seg.segment)

    def _job(
        self,
        entry: PlannedJob,
        engine: Engine,
        params: EngineParams,
        template: str | None,
        *,
        segment: str | None,
    ) -> Job:
        kind, fmt = entry.kind, entry.fmt
        request = GenerationRequest(
            kind=kind, seed=entry.seed, locale=entry.locale, brand=self.brand, format=fmt, params=params
        )
        translated = entry.action == "c2pa.translated"
        return Job(
            key=entry.key,
            kind=kind,
            engine=engine.name,
            segment=segment,
            locale=None if kind == "audio" else entry.locale,
            format=fmt.name if fmt is not None else None,
            parent=entry.parent,
            action=entry.action,
            request=request,
            template_hash=_template_hash(template) if template is not None else None,
            title=entry.title,
            caption=self.caption if kind == "image" else None,
            source_locale=self.loaded.spec.locales[0] if translated else None,
        )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc']) or '(settings)'}: {err['msg']}"


def plan_campaign(
    loaded: LoadedSpec, engines: dict[str, Engine], rounds: Mapping[str, int] | None = None
) -> Plan:
    """Every job of a spec, each with its key, without generating (or rendering) anything;
    ``rounds`` are the review rounds of rejected designs (``store.reviews.Reviews.rounds``)."""
    with _collector_paused():
        planner = _Planner(loaded, engines, rounds=rounds or {})
        for seg in loaded.segments:
            planner.segment(seg)
        if loaded.spec.audio.enabled:
            planner.sound_logo()
        _check_unique(planner.entries)
        planned, planner.entries = tuple(planner.entries), []
        return Plan(loaded.spec.campaign, planned=planned, planner=planner)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Planning makes ~10 objects per job, none of them in a reference cycle; the cyclic
    collector's passes over every one of them grew with the plan (~40% of planning 100k rows)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_unique(jobs: list[PlannedJob]) -> None:
    seen: set[str] = set()
    for j in jobs:
        if j.key in seen:
            raise SpecError(f"two jobs would produce the same asset ({j.title}): make segments distinct")
        seen.add(j.key)


def ordered(jobs: Sequence[K]) -> Iterator[K]:
    """Each parent directly followed by its children (depth first, otherwise in plan order), so
    variants are signed as soon as they finish and a master's bytes are held only that long
    (all masters first kept every one of them in memory until the variants came)."""
    by_key = {j.key: j for j in jobs}
    children: dict[str, list[K]] = {}
    roots: list[K] = []
    for j in jobs:
        if j.parent is not None and j.parent in by_key:
            children.setdefault(j.parent, []).append(j)
        else:
            roots.append(j)
    stack = list(reversed(roots))
    while stack:
        job = stack.pop()
        yield job
        stack.extend(reversed(children.get(job.key, [])))
