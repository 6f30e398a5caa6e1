"""Typed engine parameters: what a spec's fields become in a job's request.

Each engine reads one frozen parameter model (its ``params_type``) under the names the spec uses
(``copy.templates`` → ``template``, ``copy.model.max_tokens`` → ``max_tokens``, ``audio.seconds`` →
``seconds``), so a spec field and the engine cannot drift apart: an unknown name is refused when
the plan builds the request, not ignored at generate time.

Templates travel unrendered (:class:`CopyTemplate`): an engine renders them once, when it
generates, so planning never runs a template.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mintloom.provenance.credentials import ModelName

ParamValue = str | int | float | bool


class EngineParams(BaseModel):
    """Base of every engine's parameter model (third-party engines subclass it too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def key_fields(self) -> dict[str, object]:
        """What a job key hashes of these parameters (besides kind, seed, locale and format)."""
        return {"params": self.model_dump(mode="json")}


class CopyTemplate(BaseModel):
    """A Jinja2 template and the audience variables it reads, rendered by the engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    variables: dict[str, ParamValue] = {}
    name: str | None = None
    """The template's name in the spec (``copy.templates.<name>``); manifests record it."""


class CopyParams(EngineParams):
    """The ``copy`` engine: the template is the text."""

    template: CopyTemplate

    def key_fields(self) -> dict[str, object]:
        # the shape job keys hashed before parameters were typed, so copy jobs keep their keys
        return {
            "texts": dict(self.template.variables),
            "params": {"template": self.template.source, "name": self.template.name},
        }


class ImageParams(EngineParams):
    """The compositor: the brand's message templates (``brand.messages.<locale>``) and the
    variables they read; format and brand travel on the request."""

    headline: str = ""
    body: str = ""
    cta: str = ""
    variables: dict[str, ParamValue] = {}
    campaign: str | None = None
    messages_model: ModelName | None = None
    """The trained model that wrote the messages (``brand.messages_model``), when one did: the ad
    then composites that model's text and is labelled ``compositeWithTrainedAlgorithmicMedia``."""
    hero: DiffusionParams | ImagesApiParams | None = None
    """A text-to-image background layer (``brand.hero``), made once per segment × locale (the
    request's seed) and laid under the copy of every format."""

    def key_fields(self) -> dict[str, object]:
        # without a messages model or hero, the shape image job keys always hashed (so they stay)
        unset = {k for k in ("messages_model", "hero") if getattr(self, k) is None}
        return {"params": self.model_dump(mode="json", exclude=unset or None)}


class AudioParams(EngineParams):
    """The sound logo (``audio.format``, ``audio.seconds``)."""

    format: Literal["wav", "flac"] = "wav"
    seconds: float = Field(default=2.5, gt=0.5, le=10)


class OpenAICompatParams(EngineParams):
    """``copy.engine: openai-compat``: the template renders to the prompt; the rest is
    ``copy.model``. The API key is never a parameter (``$OPENAI_API_KEY`` or the constructor)."""

    template: CopyTemplate
    base_url: str | None = None
    model: str | None = None
    system: str | None = None
    max_tokens: int = Field(default=256, ge=1, le=32_768)
    timeout: float | None = Field(default=None, gt=0, le=600)


class TransformersParams(EngineParams):
    """``copy.engine: transformers-text``: the template renders to the prompt; ``model_path`` is a
    local folder, ``model_id`` the name manifests show."""

    template: CopyTemplate
    model_path: str | None = None
    model_id: str | None = None
    max_new_tokens: int = Field(default=40, ge=1, le=2048)


class DiffusionParams(EngineParams):
    """``diffusers``: a local text-to-image pipeline folder; ``prompt`` renders (in the engine,
    once) to the prompt, so audience values reach the model but never a manifest."""

    prompt: CopyTemplate
    model_path: str | None = None
    model_id: ModelName | None = None
    steps: int = Field(default=2, ge=1, le=100)
    guidance: float = Field(default=0.0, ge=0, le=30)
    """Classifier-free guidance; 0 for the distilled turbo/schnell models (one pass per step)."""
    width: int = Field(default=512, ge=64, le=2048, multiple_of=8)
    height: int = Field(default=512, ge=64, le=2048, multiple_of=8)


class ImagesApiParams(EngineParams):
    """``openai-images``: ``POST {base_url}/images/generations`` answered with ``b64_json``. The
    API key is never a parameter ($OPENAI_API_KEY)."""

    prompt: CopyTemplate
    base_url: str | None = None
    model: str | None = None
    width: int = Field(default=1024, ge=64, le=4096)
    height: int = Field(default=1024, ge=64, le=4096)
    timeout: float | None = Field(default=None, gt=0, le=600)


class CaptionParams(EngineParams):
    """``transformers-caption`` (the spec's ``captions``): a local image-to-text model folder
    (VisionEncoderDecoder / BLIP class) that describes ``image``, the encoded picture to caption
    (set by the worker when the picture exists; empty in the plan)."""

    model_path: str
    model_id: ModelName | None = None
    max_new_tokens: int = Field(default=20, ge=1, le=128)
    image: bytes = Field(default=b"", repr=False)


ImageParams.model_rebuild()
