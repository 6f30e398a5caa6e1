"""The campaign spec: a YAML file validated by pydantic, with errors that point at the line.

A spec names the brand kit (palette, font, logo, tone, a message catalog per locale), the
audience (CSV or JSON rows, one per segment), the locales (BCP 47), the formats (named screen
sizes), copy templates (Jinja2, rendered sandboxed), the sound logo and the lineage (which
registered datasets and model made it). Paths in the spec are relative to the spec file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from mintloom.campaign.qa import QASpec
from mintloom.engines.base import FORMATS, BrandStyle, Encoding, Format, format_preset
from mintloom.engines.copy import template_variables
from mintloom.engines.params import AudioParams
from mintloom.errors import SpecError, SpecInputError, UnsafeNameError, UnsafeTextError
from mintloom.provenance.credentials import ModelName
from mintloom.store.files import (
    MAX_AUDIENCE_BYTES,
    MAX_IMAGE_BYTES,
    MAX_LOGO_PIXELS,
    MAX_SPEC_BYTES,
    SAFE_NAME,
    is_safe_name,
    read_regular,
)

TEXT_FIELDS = ("headline", "body", "cta")
SafeName = Annotated[str, StringConstraints(pattern=SAFE_NAME)]
"""A name that becomes a path component (see :data:`mintloom.store.files.SAFE_NAME`)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters no spec or audience text may carry (tab, LF and CR are text)."""
MAX_SPEC_VALUES = 100_000
"""Scalars a spec may expand to: YAML aliases can make a small file a huge tree."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeroSpec(_Model):
    """A text-to-image background layer per segment × locale (``brand.hero``): the copy, logo and
    CTA are laid over it in every format. ``prompt`` is a template that may read audience
    columns; manifests record its hash and the rendered prompt's salted commitment only."""

    engine: Literal["diffusers", "openai-images"] = "diffusers"
    prompt: str = Field(min_length=1)
    model: dict[str, str | int | float] = Field(default_factory=dict)
    """The engine's settings: ``model_path`` (a local pipeline folder, relative to the spec;
    none: the tiny random-weight stand-in), ``model_id``, ``steps``, ``guidance``, ``width``,
    ``height`` (diffusers); ``base_url``, ``model``, ``width``, ``height``, ``timeout``
    (openai-images; the API key comes from $OPENAI_API_KEY)."""

    @field_validator("model")
    @classmethod
    def _no_secrets(cls, v: dict[str, str | int | float]) -> dict[str, str | int | float]:
        if "api_key" in v:
            raise ValueError("api_key does not belong in a spec: set OPENAI_API_KEY in the environment")
        return v


class CaptionSpec(_Model):
    """Alt text that describes the picture (``captions``): a local image-to-text model folder
    (``model_path``, relative to the spec) captions every image; locales in the caption's
    ``language`` get the caption before the copy-based alt text, the others the copy-based one."""

    model_path: Path
    model_id: ModelName | None = None
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    max_new_tokens: int = Field(default=20, ge=1, le=128)


class BrandKit(_Model):
    name: str = Field(min_length=1)
    palette: tuple[str, ...] = Field(min_length=2)
    font: str = "sans"
    logo: Path | None = None
    tone: str = "neutral"
    messages: dict[str, dict[str, str]] = Field(min_length=1)
    """Per locale, the message templates (headline, body, cta and any extra keys)."""
    messages_model: ModelName | None = None
    """The trained model that wrote ``messages``, if one did: the ads then composite its text, so
    their manifests say compositeWithTrainedAlgorithmicMedia and name it."""
    hero: HeroSpec | None = None

    @field_validator("palette")
    @classmethod
    def _palette(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return BrandStyle.model_validate({"palette": v}).palette


class FormatSpec(_Model):
    """A format given as a mapping: a named placement with an encoding (``{name: square,
    encoding: jpeg}``), or any size (``{name, width, height}``)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    width: int | None = Field(default=None, gt=0, le=8192)
    height: int | None = Field(default=None, gt=0, le=8192)
    encoding: Encoding = "png"
    """png (lossless, the default), jpeg or webp: what C2PA signs and ad servers accept."""

    @model_validator(mode="after")
    def _size(self) -> FormatSpec:
        if (self.width is None or self.height is None) and self.name not in FORMATS:
            raise ValueError(f"format {self.name!r} is not a named placement: give its width and height")
        return self

    def resolve(self) -> Format:
        preset = FORMATS.get(self.name)
        w, h = (preset.width, preset.height) if preset is not None else (0, 0)
        return Format(name=self.name, width=self.width or w, height=self.height or h, encoding=self.encoding)


class CopySpec(_Model):
    templates: dict[SafeName, str] = Field(default_factory=dict)
    """Named long-form copy templates; each renders one text asset per segment and locale."""
    engine: SafeName = "copy"
    """An installed engine (``mintloom.engines`` entry point): ``copy`` renders the templates as
    the text; a model engine (``openai-compat``, ``transformers-text``, a third-party one) renders
    a template as its prompt and writes the text (recorded as trainedAlgorithmicMedia)."""
    model: dict[str, str | int | float] = Field(default_factory=dict)
    """The engine's settings, under the names of its parameter model (an unknown one is refused
    when planning): ``base_url``/``model``/``system``/``max_tokens``/``timeout`` (openai-compat; the
    API key comes from $OPENAI_API_KEY, never from the spec), ``model_path``/``model_id``/
    ``max_new_tokens`` (transformers-text; a path relative to the spec file)."""

    @field_validator("model")
    @classmethod
    def _no_secrets(cls, v: dict[str, str | int | float]) -> dict[str, str | int | float]:
        if "api_key" in v:
            raise ValueError("api_key does not belong in a spec: set OPENAI_API_KEY in the environment")
        return v


class AudioSpec(AudioParams):
    """The sound logo: the engine's parameters (format, seconds), and whether to make one."""

    enabled: bool = True


class LineageSpec(_Model):
    """What made the assets: ids of registered datasets and the model (see `mintloom dataset`).

    ``model`` is the registered ingredient that royalties and on-chain lineage name. Manifests
    name it as the ``model`` only of assets a trained model made; for procedural output (no
    trained model ran, e.g. the example's ``lumen-layout-v1`` layout recipe) it is recorded as
    the ``recipe`` the software agent ran, never as a model."""

    datasets: tuple[str, ...] = ()
    model: str | None = None
    ai_training: Literal["allowed", "notAllowed", "constrained"] = "notAllowed"


class ShareSpec(_Model):
    role: Literal["brand", "artist", "data", "model", "other"]
    account: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    """The payee; for data/model roles it defaults to the curator/trainer recorded on chain."""
    bps: int = Field(gt=0, le=10_000)


_DEFAULT_TERMS: dict[str, str | int] = {
    "image": "commercial-remix",
    "copy": "commercial-use",
    "audio": "commercial-use",
}


class GovernanceSpec(_Model):
    terms: dict[str, str | int] = Field(default_factory=lambda: dict(_DEFAULT_TERMS))
    """Per output kind (image, copy, audio), a license flavour name or a registered terms id."""
    split: tuple[ShareSpec, ...] = ()
    require_review: bool = False
    """Publish only groups a reviewer approved (``mintloom review``), as they were approved."""

    @field_validator("split")
    @classmethod
    def _sums(cls, v: tuple[ShareSpec, ...]) -> tuple[ShareSpec, ...]:
        if v and sum(s.bps for s in v) != 10_000:
            raise ValueError(f"split shares must add up to 10000 bps (100%), got {sum(s.bps for s in v)}")
        return v


class RightsSpec(_Model):
    """What each image's embedded XMP says about its rights (brand name by default)."""

    copyright: str | None = Field(default=None, max_length=512)
    licensor: str | None = Field(default=None, max_length=256)
    licensor_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    credit: str | None = Field(default=None, max_length=256)
    web_statement: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """URL of the licence terms; ``{terms}`` becomes the asset kind's terms (``commercial-remix``)."""

    @field_validator("web_statement")
    @classmethod
    def _placeholders(cls, v: str | None) -> str | None:
        rest = (v or "").replace("{terms}", "")
        if "{" in rest or "}" in rest:
            raise ValueError("web_statement may only use the placeholder {terms}")
        return v


VARIABLE_NAME = r"^[a-z][a-z0-9_]{0,31}$"
"""A dynamic variable's name: what templates read as ``{{ name }}`` and requests send."""
MAX_DYNAMIC_VARIABLES = 32


class _Variable(_Model):
    feeds: tuple[Literal["headline", "body", "cta"], ...] = Field(min_length=1)
    """The brand message fields (``brand.messages.<locale>``) whose templates read it."""


class EnumVariable(_Variable):
    """A string from a closed list (weather: sunny, rainy, …)."""

    type: Literal["enum"]
    values: tuple[Annotated[str, StringConstraints(min_length=1, max_length=64)], ...] = Field(min_length=1)
    default: str

    @model_validator(mode="after")
    def _default_listed(self) -> EnumVariable:
        if len(set(self.values)) != len(self.values):
            raise ValueError("values are listed twice")
        if self.default not in self.values:
            raise ValueError(f"default {self.default!r} is not one of the values")
        return self


class IntVariable(_Variable):
    type: Literal["int"]
    min: int
    max: int
    default: int

    @model_validator(mode="after")
    def _range(self) -> IntVariable:
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside [{self.min}, {self.max}]")
        return self


class FloatVariable(_Variable):
    type: Literal["float"]
    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)
    default: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _range(self) -> FloatVariable:
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside [{self.min}, {self.max}]")
        return self


class BoolVariable(_Variable):
    type: Literal["bool"]
    default: bool


VariableSpec = Annotated[
    EnumVariable | IntVariable | FloatVariable | BoolVariable, Field(discriminator="type")
]
VariableValue = str | int | float | bool


class DynamicSpec(_Model):
    """Creatives rendered on request (``POST /campaigns/{campaign}/render``): the live variables
    a request may send, the formats it may ask for, and the fallback shown when a render fails
    a blocking QA rule. Templates read the variables like audience columns."""

    variables: dict[Annotated[str, StringConstraints(pattern=VARIABLE_NAME)], VariableSpec] = Field(
        min_length=1, max_length=MAX_DYNAMIC_VARIABLES
    )
    formats: tuple[str, ...] = ()
    """The formats a request may name (default: every format of the spec); the first is the default."""
    locale: str | None = None
    """The locale whose brand messages are rendered (default: the spec's first locale)."""
    fallback: dict[str, VariableValue] = Field(default_factory=dict)
    """The variables of the fallback creative (defaults for the rest): shown instead of a render
    that a blocking QA rule holds."""

    def resolve(self, given: Mapping[str, object]) -> dict[str, VariableValue]:
        """Every variable's value: ``given`` checked against its declaration, defaults for the
        rest, in name order. :class:`VariableProblem` names the first bad field."""
        unknown = sorted(set(given) - set(self.variables))
        if unknown:
            raise VariableProblem(str(unknown[0])[:64], "is not a variable of this campaign")
        return {
            name: _checked(name, decl, given[name]) if name in given else decl.default
            for name, decl in sorted(self.variables.items())
        }


class VariableProblem(ValueError):
    """A live variable that does not fit its declaration (``field`` names it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _checked(
    name: str, decl: EnumVariable | IntVariable | FloatVariable | BoolVariable, value: object
) -> VariableValue:
    """``value`` if it is of the variable's type and range (JSON types: no coercion from strings
    allowed: a signed URL's query strings are converted by the API before they get here)."""
    if isinstance(decl, BoolVariable):
        if not isinstance(value, bool):
            raise VariableProblem(name, "must be true or false")
        return value
    if isinstance(decl, EnumVariable):
        if not isinstance(value, str) or value not in decl.values:
            raise VariableProblem(name, f"must be one of {', '.join(decl.values)}")
        return value
    number = (int,) if isinstance(decl, IntVariable) else (int, float)
    if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
        raise VariableProblem(
            name, f"must be {'an integer' if isinstance(decl, IntVariable) else 'a number'}"
        )
    if not decl.min <= value <= decl.max:
        raise VariableProblem(name, f"must be between {decl.min} and {decl.max}")
    return float(value) if isinstance(decl, FloatVariable) else value


class CampaignSpec(_Model):
    campaign: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    seed: int = 0
    brand: BrandKit
    audience: Path | list[dict[str, Any]]
    locales: tuple[str, ...] = Field(min_length=1)
    formats: tuple[str | FormatSpec, ...] = Field(min_length=1)
    master: str = "square"
    copy_: CopySpec = Field(default_factory=CopySpec, alias="copy")
    audio: AudioSpec = Field(default_factory=AudioSpec)
    lineage: LineageSpec = Field(default_factory=LineageSpec)
    governance: GovernanceSpec = Field(default_factory=GovernanceSpec)
    qa: QASpec = Field(default_factory=QASpec)
    """The brand QA gate's rules (which block an asset, at which thresholds)."""
    rights: RightsSpec = Field(default_factory=RightsSpec)
    dynamic: DynamicSpec | None = None
    """Creatives rendered on request from live variables (see :class:`DynamicSpec`)."""
    captions: CaptionSpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("locales")
    @classmethod
    def _locales(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for tag in v:
            if not is_safe_name(tag):
                raise ValueError(f"locale {tag!r} is not a safe name (it names an output folder)")
            try:
                Locale.parse(tag, sep="-")
            except (UnknownLocaleError, ValueError) as exc:
                raise ValueError(f"unknown locale {tag!r} (expected a BCP 47 tag such as en-US)") from exc
        if len(set(v)) != len(v):
            raise ValueError("locales are listed twice")
        return v

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: tuple[str | FormatSpec, ...]) -> tuple[str | FormatSpec, ...]:
        for f in v:
            if isinstance(f, str) and f not in FORMATS:
                known = ", ".join(FORMATS)
                raise ValueError(f"unknown format {f!r}; use one of {known} or give {{name, width, height}}")
        return v

    @model_validator(mode="after")
    def _catalog_complete(self) -> CampaignSpec:
        for loc in self.locales:
            msgs = self.brand.messages.get(loc)
            if msgs is None:
                raise ValueError(f"@brand.messages: no entry for locale {loc!r}")
            for key in TEXT_FIELDS:
                if not msgs.get(key):
                    raise ValueError(
                        f"@brand.messages.{loc}: brand.messages[{loc!r}] is missing the key {key!r}"
                    )
        if self.master not in {f.name for f in self.resolved_formats()}:
            raise ValueError(f"@master: master format {self.master!r} is not among the formats")
        if self.dynamic is not None:
            self._check_dynamic(self.dynamic)
        return self

    def _check_dynamic(self, dyn: DynamicSpec) -> None:
        """The dynamic section names only this spec's formats and locales, and valid fallback values."""
        names = {f.name for f in self.resolved_formats()}
        for i, name in enumerate(dyn.formats):
            if name not in names:
                raise ValueError(f"@dynamic.formats.{i}: format {name!r} is not among the spec's formats")
        if dyn.locale is not None and dyn.locale not in self.locales:
            raise ValueError(f"@dynamic.locale: locale {dyn.locale!r} is not among the spec's locales")
        messages = self.brand.messages[self.dynamic_locale()]
        for f in TEXT_FIELDS:
            required, _optional = template_variables(messages[f], what=f"brand.messages.{f}")
            if missing := sorted(required - set(dyn.variables)):
                raise ValueError(
                    f"@dynamic.variables: the {f} template of {self.dynamic_locale()} reads "
                    f"{missing[0]!r}, which is not a declared variable"
                )
        for name, decl in dyn.variables.items():
            for f in decl.feeds:
                required, optional = template_variables(messages[f], what=f"brand.messages.{f}")
                if name not in required | optional:
                    raise ValueError(
                        f"@dynamic.variables.{name}.feeds: the {f} template of {self.dynamic_locale()} "
                        f"does not read {{{{ {name} }}}}"
                    )
        try:
            dyn.resolve(dyn.fallback)
        except VariableProblem as exc:
            raise ValueError(f"@dynamic.fallback.{exc.field}: {exc.reason}") from exc

    def dynamic_formats(self) -> tuple[str, ...]:
        """The formats a render may ask for, the default first."""
        if self.dynamic is None:
            return ()
        return self.dynamic.formats or tuple(f.name for f in self.resolved_formats())

    def dynamic_locale(self) -> str:
        dyn = self.dynamic
        return dyn.locale if dyn is not None and dyn.locale is not None else self.locales[0]

    def resolved_formats(self) -> list[Format]:
        out = []
        for f in self.formats:
            if isinstance(f, str):
                out.append(format_preset(f))
            else:
                out.append(f.resolve())
        return out


@dataclass(frozen=True, slots=True)
class Segment:
    """One audience row: a segment id (a safe name) and the variables its copy is personalised
    with. A plain slotted class, checked where rows are read: up to 100k of them live for the
    whole run (a pydantic model was ~0.3 KB more a row, and a tenth of loading's time)."""

    segment: str
    row: int
    variables: dict[str, str]


class LoadedSpec(BaseModel):
    """A validated spec with its inputs read: audience rows, logo bytes, content hash."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: CampaignSpec
    path: Path
    segments: tuple[Segment, ...]
    logo_png: bytes | None
    spec_hash: str
    """sha-256 over the spec text and every input file: changes when anything changes."""

    def brand_style(self) -> BrandStyle:
        b = self.spec.brand
        return BrandStyle(palette=b.palette, font=b.font, logo_png=self.logo_png, tone=b.tone)


# --- loading -----------------------------------------------------------------------------------
def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing ancestor)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            key = "copy" if part == "copy_" else part
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1  # the key's line: where a reader looks for the field
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _format_errors(exc: ValidationError, root: yaml.Node | None, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("str", "FormatSpec")))]
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(root, loc)
        prefix = f"{path}:{line}" if line else str(path)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc and msg.startswith("@"):  # whole-spec checks name their field: "@a.b: message"
            field, _, msg = msg[1:].partition(": ")
            loc = list[int | str](field.split("."))
            where = field
            line = _line_of(root, loc)
            prefix = f"{path}:{line}" if line else str(path)
        lines.append(f"{prefix}: {where}: {msg}")
    return "\n".join(dict.fromkeys(lines))


def _read_audience(
    src: Path | list[dict[str, Any]], spec_path: Path
) -> tuple[list[dict[str, Any]], bytes, str, bool]:
    """The rows, the bytes the spec hash covers, where they come from, and whether they are
    strings of a text without control characters (a clean CSV: no row needs searching)."""
    if isinstance(src, list):
        return src, json.dumps(src, sort_keys=True).encode(), f"{spec_path}: audience", False
    p = src if src.is_absolute() else spec_path.parent / src
    raw = read_regular(p, limit=MAX_AUDIENCE_BYTES, what="audience file", error=SpecInputError)
    if p.suffix.lower() == ".json":
        try:
            rows = json.loads(raw)
        except ValueError as exc:
            raise SpecError(f"{p}: not valid JSON: {exc}") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SpecError(f"{p}: expected a JSON array of objects, one per audience segment")
        return rows, raw, str(p), False
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{p}: not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or any(not h.strip() for h in header):
        raise SpecError(f"{p}: the first row must name every column (segment, name, offer, …)")
    header = [h.strip() for h in header]
    rows = []
    for n, cells in enumerate(reader, start=2):
        if not "".join(cells).strip():  # no cell, or only blank ones
            continue
        if len(cells) != len(header):
            raise SpecError(f"{p}:{n}: row has {len(cells)} fields, the header has {len(header)}")
        rows.append(dict(zip(header, [c.strip() for c in cells], strict=True)))
    return rows, raw, str(p), _CONTROL.search(text) is None


_CELL_TYPES = (str, int, float)


def _is_cell(v: object) -> bool:
    """A cell of a subclass of str, int or float (a bool is not a number here)."""
    return isinstance(v, str | int | float) and not isinstance(v, bool)


def _segments(rows: list[dict[str, Any]], where: str, *, text_checked: bool = False) -> tuple[Segment, ...]:
    """The audience rows as segments, each checked; ``text_checked``: the rows are strings read
    from a text already searched for control characters (a CSV), so no row is searched again."""
    if not rows:
        raise SpecError(f"{where}: the audience has no rows")
    out: list[Segment] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=1):
        seg = row.get("segment")
        if not isinstance(seg, str) or not seg.strip():
            raise SpecError(f"{where}: row {i}: the field 'segment' is missing or empty")
        if not is_safe_name(seg):
            raise UnsafeNameError(
                f"{where}: row {i}: field 'segment': {seg!r} is not a safe name (it names an output folder)",
                hint="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        if seg in seen:
            raise SpecError(f"{where}: row {i}: segment {seg!r} appears twice")
        seen.add(seg)
        out.append(Segment(seg, i, row if text_checked else _checked_cells(row, where, i)))
    return tuple(out)


def _checked_cells(row: dict[str, Any], where: str, i: int) -> dict[str, str]:
    """A row's cells as text: strings and numbers only, no control character."""
    bad = [k for k, v in row.items() if type(v) not in _CELL_TYPES and not _is_cell(v)]
    if bad:
        raise SpecError(f"{where}: row {i}: field {bad[0]!r} must be a string or a number")
    if _CONTROL.search("".join(f"{k}{v}" for k, v in row.items())):  # one search a row, then the field
        k = next(k for k, v in row.items() if _CONTROL.search(f"{k}{v}"))
        raise UnsafeTextError(f"{where}: row {i}: field {k!r} contains a control character")
    return {str(k): str(v) for k, v in row.items()}


def _read_logo(logo: Path | None, base: Path) -> tuple[bytes | None, bytes]:
    if logo is None:
        return None, b""
    from PIL import Image, UnidentifiedImageError

    p = logo if logo.is_absolute() else base / logo
    raw = read_regular(p, limit=MAX_IMAGE_BYTES, what="brand.logo", error=SpecInputError)
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.width * im.height > MAX_LOGO_PIXELS:
                raise SpecInputError(
                    f"brand.logo: {p} is {im.width}x{im.height} pixels, over the limit of {MAX_LOGO_PIXELS}"
                )
            im.load()
            buf = io.BytesIO()
            im.convert("RGBA").save(buf, "PNG", compress_level=6)
    except OSError as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise SpecError(f"brand.logo: {p} is not an image Pillow can read") from exc
        raise SpecError(f"brand.logo: cannot read {p}: {exc.strerror or exc}") from exc
    return buf.getvalue(), raw


def parse_spec(text: str, path: Path) -> CampaignSpec:
    """Validate spec text; errors name the file, line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SpecError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a campaign spec is a YAML mapping (campaign:, brand:, audience:, …)")
    _check_text(data, root, path)
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"invalid campaign spec\n{_format_errors(exc, root, path)}") from exc


def _scalars(node: object, loc: tuple[int | str, ...] = ()) -> Iterator[tuple[tuple[int | str, ...], object]]:
    """Every scalar of the loaded YAML with its location, aliases expanded as pydantic sees them."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*loc, str(k)), k
            yield from _scalars(v, (*loc, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _scalars(v, (*loc, i))
    else:
        yield loc, node


def _check_text(data: dict[str, Any], root: yaml.Node | None, path: Path) -> None:
    """Refuse control characters in any string, and alias bombs, before anything else looks."""
    for n, (loc, value) in enumerate(_scalars(data)):
        if n >= MAX_SPEC_VALUES:
            raise UnsafeTextError(
                f"{path}: the spec expands to more than {MAX_SPEC_VALUES} values (YAML aliases?)"
            )
        bad = _CONTROL.search(value) if isinstance(value, str) else None
        if bad is not None:
            line = _line_of(root, list(loc))
            where = ".".join(str(p) for p in loc) or "(top level)"
            prefix = f"{path}:{line}" if line else str(path)
            raise UnsafeTextError(f"{prefix}: {where}: contains a control character ({bad[0]!r})")


def load_spec(path: Path) -> LoadedSpec:
    """Read, validate and load a campaign spec with its audience and logo."""
    raw = read_regular(path, limit=MAX_SPEC_BYTES, what="campaign spec", error=SpecInputError)
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text did
    except UnicodeDecodeError as exc:
        raise SpecError(f"cannot read campaign spec {path}: not UTF-8 text ({exc})") from exc
    spec = parse_spec(text, path)
    base = path.parent
    rows, audience_raw, where, clean = _read_audience(spec.audience, path)
    segments = _segments(rows, where, text_checked=clean)
    logo_png, logo_raw = _read_logo(spec.brand.logo, base)
    h = hashlib.sha256()
    for part in (text.encode(), audience_raw, logo_raw):
        h.update(hashlib.sha256(part).digest())
    return LoadedSpec(spec=spec, path=path, segments=segments, logo_png=logo_png, spec_hash=h.hexdigest())
