"""The engine interface: requests in, artifacts out.

Every engine is a pure function of its :class:`GenerationRequest`: the same request yields
byte-identical :class:`Artifact` data (no timestamps, no global random state, fixed encoder
settings). Model-backed engines record ``model_id``/``model_hash`` and mark their output as
``trainedAlgorithmicMedia`` (the IPTC digital source type that C2PA manifests carry).

What an engine records is typed (:class:`~mintloom.provenance.credentials.GenerationParameters`,
an allow-list): request params are never copied into an artifact wholesale, so a prompt, an
audience value or a local path has no way into a signed manifest.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, field_validator

from mintloom.provenance.credentials import GenerationParameters

ParamValue = str | int | float | bool

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


class Format(BaseModel, frozen=True):
    """An output format (ad placement)."""

    name: str
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)


class GenerationRequest(BaseModel, frozen=True):
    """One asset to generate."""

    kind: Literal["image", "copy", "audio"]
    seed: int
    locale: str  # BCP 47
    brand: BrandStyle
    format: Format | None = None
    # image: headline, body, cta (already localized); copy: template variables
    texts: dict[str, str] = {}
    params: dict[str, ParamValue] = {}


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
    digital_source_type: Literal["algorithmicMedia", "trainedAlgorithmicMedia"] = "algorithmicMedia"
    # auto-tagging: dimensions, dominant colours [{name, hex}], locale, text, engine
    tags: dict[str, object] = {}


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
    )


def recorded_copy_parameters(request: GenerationRequest, **settings: ParamValue) -> GenerationParameters:
    """What a copy manifest records: the template's name and the engine settings, never the
    template's variables, the rendered text or the prompt (the template itself is recorded as
    ``template_hash``; a prompt as its salted commitment, added by the runner)."""
    name = request.params.get("name")
    return GenerationParameters.model_validate(
        {"template_name": None if name is None else str(name), **settings}
    )


@runtime_checkable
class Engine(Protocol):
    """A generator. ``generate`` must be deterministic in its request."""

    name: str
    version: str

    def generate(self, request: GenerationRequest) -> Artifact: ...


def engine_registry() -> dict[str, Engine]:
    """The built-in engines by name.

    Model engines are listed too; their heavy dependencies (httpx, transformers, torch) are
    imported only when they generate.
    """
    from mintloom.engines.audio import SoundLogo
    from mintloom.engines.copy import CopyEngine
    from mintloom.engines.image import ImageCompositor
    from mintloom.engines.openai_compat import OpenAICompatEngine
    from mintloom.engines.transformers_text import TransformersTextEngine

    engines: list[Engine] = [
        ImageCompositor(),
        CopyEngine(),
        SoundLogo(),
        OpenAICompatEngine(),
        TransformersTextEngine(),
    ]
    return {e.name: e for e in engines}
