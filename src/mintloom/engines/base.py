"""The engine interface: requests in, artifacts out.

Every engine is a pure function of its :class:`GenerationRequest`: the same request yields
byte-identical :class:`Artifact` data (no timestamps, no global random state, fixed encoder
settings). Model-backed engines record ``model_id``/``model_hash`` and mark their output as
``trainedAlgorithmicMedia`` (the IPTC digital source type that C2PA manifests carry); a procedural
engine that composites a model's output (the compositor given model-written messages) names that
model and says ``compositeWithTrainedAlgorithmicMedia``; procedural output names no model and says
``algorithmicMedia``.

What an engine records is typed (:class:`~mintloom.provenance.credentials.GenerationParameters`,
an allow-list): request params are never copied into an artifact wholesale, so a prompt, an
audience value or a local path has no way into a signed manifest.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel, Field, SerializeAsAny, field_validator

from mintloom.engines.params import CopyTemplate, EngineParams, ParamValue
from mintloom.engines.qa import LayoutFacts
from mintloom.errors import EngineError, UnknownFormatError
from mintloom.provenance.credentials import IPTC, DigitalSourceType, GenerationParameters

P = TypeVar("P", bound=EngineParams)

SourceTerm = Literal["algorithmicMedia", "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"]
"""The IPTC digital source type of an artifact (see :class:`DigitalSourceType`)."""

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class BrandStyle(BaseModel, frozen=True):
    """A brand kit as the engines see it."""

    palette: tuple[str, ...] = Field(min_length=2)  # '#rrggbb'
    font: str = "sans"
    logo_png: bytes | None = None
    tone: str = "neutral"

    @field_validator("palette")
    @classmethod
    def _hex_colours(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for colour in value:
            if not _HEX.match(colour):
                raise ValueError(f"palette colour {colour!r} is not '#rrggbb'")
        return tuple(c.lower() for c in value)


Encoding = Literal["png", "jpeg", "webp"]


class Format(BaseModel, frozen=True):
    """An output format (ad placement)."""

    name: str
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    encoding: Encoding = "png"
    """The file an image engine writes: PNG (lossless), JPEG or WebP (lossy, smaller)."""


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(name="square", width=1080, height=1080),
        Format(name="story", width=1080, height=1920),
        Format(name="landscape", width=1200, height=628),
        Format(name="fullhd", width=1920, height=1080),
        Format(name="medium-rectangle", width=300, height=250),
        Format(name="leaderboard", width=728, height=90),
        Format(name="skyscraper", width=160, height=600),
    )
}
"""The named placements: the one table campaign specs and engines share (any other format is
given as ``{name, width, height}``)."""


def format_preset(name: str) -> Format:
    """The preset called ``name``; an unknown name is refused (:class:`UnknownFormatError`)."""
    preset = FORMATS.get(name)
    if preset is None:
        raise UnknownFormatError(
            f"unknown format {name!r}",
            hint=f"use one of {', '.join(FORMATS)} or give {{name, width, height}}",
        )
    return preset


class GenerationRequest(BaseModel, frozen=True):
    """One asset to generate: what every engine shares, and the engine's own typed parameters."""

    kind: Literal["image", "copy", "audio"]
    seed: int
    locale: str  # BCP 47
    brand: BrandStyle
    format: Format | None = None
    params: SerializeAsAny[EngineParams]
    """An instance of the generating engine's ``params_type``."""


class Artifact(BaseModel, frozen=True):
    """What an engine produced, with everything needed to reproduce and label it."""

    data: bytes
    media_type: str
    extension: str
    engine: str
    engine_version: str
    seed: int
    parameters: GenerationParameters
    """What the manifest may say about the engine's settings (an allow-list)."""
    model_id: str | None = None
    model_hash: str | None = None
    digital_source_type: SourceTerm = "algorithmicMedia"
    """``algorithmicMedia`` only when no trained model's output is in it (then ``model_id`` is None)."""
    # auto-tagging: dimensions, dominant colours [{name, hex}], locale, text, engine
    tags: dict[str, object] = {}
    prompt: str | None = Field(default=None, repr=False, exclude=True)
    """A model engine's rendered prompt: never recorded as is, only as the runner's salted
    commitment (it is rendered here, at generate time, so the plan cannot know it)."""
    template_hash: str | None = None
    """sha-256 of the prompt template a model engine rendered (recorded; the prompt is not)."""
    layers: tuple[Artifact, ...] = Field(default=(), repr=False, exclude=True)
    """Model layers composited into this artifact (a text-to-image hero): each is signed as its
    own trainedAlgorithmicMedia asset and becomes a ``componentOf`` ingredient of this one."""

    @property
    def source_type(self) -> DigitalSourceType:
        return DigitalSourceType(IPTC + self.digital_source_type)


def text_artifact(
    engine: Engine,
    request: GenerationRequest,
    text: str,
    parameters: GenerationParameters,
    *,
    model_id: str | None = None,
    model_hash: str | None = None,
    trained: bool = False,
    tags: dict[str, object] | None = None,
    prompt: str | None = None,
) -> Artifact:
    """The artifact of a text engine: UTF-8 ``text/plain``, tagged with its locale and text; with a
    model (``trained``) it is marked ``trainedAlgorithmicMedia``."""
    return Artifact(
        data=text.encode("utf-8"),
        media_type="text/plain; charset=utf-8",
        extension="txt",
        engine=engine.name,
        engine_version=engine.version,
        seed=request.seed,
        parameters=parameters,
        model_id=model_id,
        model_hash=model_hash,
        digital_source_type="trainedAlgorithmicMedia" if trained or model_id else "algorithmicMedia",
        tags={"engine": engine.name, "locale": request.locale, "text": text, **(tags or {})},
        prompt=prompt,
    )


def model_image_artifact(
    engine: Engine,
    request: GenerationRequest,
    png: bytes,
    parameters: GenerationParameters,
    *,
    model_id: str,
    prompt: str,
    model_hash: str | None = None,
) -> Artifact:
    """The artifact of a text-to-image engine: its picture encoded as PNG, ``trainedAlgorithmicMedia``,
    tagged with its engine, model and size (``parameters``' width and height)."""
    return Artifact(
        data=png,
        media_type="image/png",
        extension="png",
        engine=engine.name,
        engine_version=engine.version,
        seed=request.seed,
        parameters=parameters,
        model_id=model_id,
        model_hash=model_hash,
        digital_source_type="trainedAlgorithmicMedia",
        tags={
            "engine": engine.name,
            "model": model_id,
            "width": parameters.width,
            "height": parameters.height,
        },
        prompt=prompt,
    )


def recorded_copy_parameters(template: CopyTemplate, **settings: ParamValue) -> GenerationParameters:
    """What a copy manifest records: the template's name and the engine settings, never the
    template's variables, the rendered text or the prompt (the template itself is recorded as
    ``template_hash``; a prompt as its salted commitment, added by the runner)."""
    return GenerationParameters.model_validate({"template_name": template.name, **settings})


def expect_params(engine: Engine, request: GenerationRequest, kind: str, params_type: type[P]) -> P:
    """The request's parameters, refused by name unless the request is of ``kind`` and carries
    ``params_type`` (the engine's own)."""
    if request.kind != kind:
        raise EngineError(f"the {engine.name} engine makes {kind}, not {request.kind!r}")
    if not isinstance(request.params, params_type):
        raise EngineError(
            f"the {engine.name} engine takes {params_type.__name__}, not {type(request.params).__name__}"
        )
    return request.params


@runtime_checkable
class Engine(Protocol):
    """A generator. ``generate`` must be deterministic in its request."""

    name: str
    version: str

    @property
    def params_type(self) -> type[EngineParams]:
        """The parameter model its requests carry (the spec's fields map onto its names)."""
        ...

    def generate(self, request: GenerationRequest) -> Artifact: ...


@dataclass(frozen=True)
class Rendered:
    """An image engine's artifact with the pixels it encoded losslessly (so the worker fingerprints
    them without decoding the file again), and how long drawing and encoding took."""

    artifact: Artifact
    pixels: Image.Image
    generate_s: float
    encode_s: float
    layout: LayoutFacts | None = None
    """Where the engine put text, logo and button (the brand QA gate measures the pixels there)."""
    generate_cpu_s: float = 0.0
    """CPU seconds of this thread while drawing (the wall clock counts a loaded machine's waits)."""
    encode_cpu_s: float = 0.0
    array: NDArray[np.uint8] | None = None
    """``pixels`` as an (height, width, 3) array, when the engine made one to encode: the QA gate
    reads it instead of copying the million pixels out of the image again."""


@runtime_checkable
class RendersPixels(Protocol):
    """An engine that can also hand over its lossless output's pixels (see :class:`Rendered`)."""

    def render_pixels(self, request: GenerationRequest) -> Rendered: ...


ENTRY_POINT_GROUP = "mintloom.engines"


def engine_registry() -> dict[str, Engine]:
    """Every installed engine by name: the entry points of group ``mintloom.engines`` (mintloom's
    own in its pyproject, a third-party engine's in its package), loaded once per process.

    Model engines import their heavy dependencies (httpx, transformers, torch) only when they
    generate, so listing them costs nothing.
    """
    return dict(_load_engines())


@functools.cache
def _load_engines() -> tuple[tuple[str, Engine], ...]:
    points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if not points:
        raise EngineError(
            f"no engines are registered under {ENTRY_POINT_GROUP!r}",
            hint="reinstall mintloom (pip install -e .) so its entry points are recorded",
        )
    for first, second in itertools.pairwise(points):
        if first.name == second.name:
            raise EngineError(
                f"two engines are named {first.name!r}: {_origin(first)} and {_origin(second)}",
                hint="uninstall one of the packages",
            )
    return tuple((ep.name, _load_engine(ep)) for ep in points)


def _origin(ep: metadata.EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "unknown distribution"
    return f"entry point {ep.name} = {ep.value} ({dist})"


_ENGINE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""An engine name: it lands in every manifest, catalog row and job key."""


def _load_engine(ep: metadata.EntryPoint) -> Engine:
    """The engine an entry point names (a class or factory called without arguments)."""
    origin = _origin(ep)
    if not _ENGINE_NAME.fullmatch(ep.name):
        raise EngineError(
            f"{origin}: {ep.name!r} is not a safe engine name",
            hint="lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    try:
        factory = ep.load()
        engine = factory() if callable(factory) else factory
    except Exception as exc:  # foreign code: any failure to import or construct it
        raise EngineError(f"{origin} failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(engine, Engine):
        raise EngineError(
            f"{origin} is not an engine",
            hint="an engine has name, version, params_type and generate(request)",
        )
    if engine.name != ep.name:
        raise EngineError(
            f"{origin} names itself {engine.name!r}", hint="the entry point's name must be the engine's name"
        )
    if not (isinstance(engine.params_type, type) and issubclass(engine.params_type, EngineParams)):
        raise EngineError(f"{origin}: params_type is not an EngineParams model")
    return engine
