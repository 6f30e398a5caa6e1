"""What a Content Credential says about a generated asset, and the signer interface.

This module is the contract between ``campaign/`` (which produces artifacts) and the C2PA
implementation in ``provenance/``: the campaign pipeline builds a :class:`GenerationRecord`
per artifact and hands bytes + record to an :class:`AssetSigner`; it gets back the asset
with its manifest embedded (text also gets the manifest as a sidecar, publishable on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


class DigitalSourceType(StrEnum):
    """IPTC digital source types used in ``c2pa.actions``.

    mintloom says ``trainedAlgorithmicMedia`` when a trained model made the asset,
    ``compositeWithTrainedAlgorithmicMedia`` when a procedural engine composited a model's output
    into it (an ad whose headline a model wrote; a variant re-rendered from a parent that holds
    model output), and ``algorithmicMedia`` only when no trained model ran — and then the manifest
    names no model (a procedural recipe is recorded as ``recipe``, beside the software agent).
    """

    TRAINED_ALGORITHMIC = IPTC + "trainedAlgorithmicMedia"  # output of a trained model
    ALGORITHMIC = IPTC + "algorithmicMedia"  # procedural, no trained model
    COMPOSITE_WITH_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"

    @property
    def term(self) -> str:
        """The IPTC term without the vocabulary URI (``trainedAlgorithmicMedia`` …)."""
        return self.value.removeprefix(IPTC)

    @property
    def names_model(self) -> bool:
        """Whether a trained model's output is in the asset (so the manifest may name it)."""
        return self is not DigitalSourceType.ALGORITHMIC


def derived_source_type(own: DigitalSourceType, parent_holds_model_output: bool) -> DigitalSourceType:
    """The source type of an asset a procedural engine derived from a parent (resized, translated):
    mintloom re-renders variants rather than copying pixels, so a procedural variant of model
    output is a composite of procedural and trained media; a model's own output stays trained."""
    if own is DigitalSourceType.ALGORITHMIC and parent_holds_model_output:
        return DigitalSourceType.COMPOSITE_WITH_TRAINED
    return own


DerivationAction = Literal["c2pa.created", "c2pa.resized", "c2pa.translated", "c2pa.edited", "c2pa.converted"]
TrainingUse = Literal["allowed", "notAllowed", "constrained"]


Hex64 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


def _no_dotdot(value: str) -> str:
    if ".." in value:
        raise ValueError("a model or recipe is a name, not a path")
    return value


ModelName = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[^/~.\\\x00-\x1f][^\\\x00-\x1f]*$"),
    AfterValidator(_no_dotdot),
]
"""A model's or recipe's name (hub id, registered name or served model): never a path."""
SpecName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/\\\x00-\x1f]+$")]
"""A name the spec author chose (format, layout, template): never a path."""


class GenerationParameters(BaseModel):
    """The engine settings a manifest may record: a typed allow-list, not a filter.

    Every field is a setting of an engine, chosen by the spec author or the engine itself; none
    can hold audience data, free text, a prompt, a URL or a local path, and anything else is
    refused (``extra="forbid"``). A prompt is recorded only as its salted commitment.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # images (compositor)
    campaign: SpecName | None = None
    format: SpecName | None = None
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    layout: SpecName | None = None
    recipe_version: int | None = None
    # sound logo
    seconds: float | None = Field(default=None, gt=0)
    scale: SpecName | None = None
    root_midi: int | None = None
    notes: int | None = Field(default=None, ge=0)
    duration: float | None = Field(default=None, ge=0)
    sample_rate: int | None = Field(default=None, gt=0)
    # copy (templates and model engines)
    template_name: SpecName | None = None
    prompt_commitment: Hex64 | None = Field(
        default=None, description="salted sha-256 of the rendered prompt, never the prompt"
    )
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    max_new_tokens: int | None = Field(default=None, gt=0)
    decoding: Literal["greedy"] | None = None
    # text-to-image (diffusers, openai-images)
    steps: int | None = Field(default=None, gt=0)
    guidance: float | None = Field(default=None, ge=0)


class GenerationRecord(BaseModel):
    """The ``mintloom.generation`` assertion: what made this asset. Never holds personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = Field(min_length=1)
    engine_version: str = Field(min_length=1)
    model_id: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[^/~.\\\x00-\x1f][^\\\x00-\x1f]*$",
        description="the trained model whose output is in the asset (hub id, registered name or "
        "served model): never a path, never set for algorithmicMedia",
    )
    model_hash: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[0-9A-Za-z_.:-]+$",
        description="hex sha-256 of the model weights (or the server's system fingerprint)",
    )
    recipe: ModelName | None = Field(
        default=None,
        description="procedural output only: the campaign's registered, versioned procedural recipe "
        "(the spec's lineage.model, e.g. lumen-layout-v1), which on-chain lineage links to the asset: "
        "a template, not a trained model",
    )
    dataset_ids: tuple[str, ...] = ()
    template_hash: Hex64 | None = Field(
        default=None, description="sha-256 of the copy/prompt/layout template"
    )
    seed_commitment: Hex64 | None = Field(
        default=None,
        description="salted commitment of the engine seed: the seed is derived from segment names",
    )
    seed: int | None = Field(
        default=None, description="legacy manifests only (the raw seed); mintloom no longer writes it"
    )
    parameters: GenerationParameters = Field(default_factory=GenerationParameters)
    campaign: str = Field(min_length=1)
    segment_commitment: str = Field(
        pattern="^[0-9a-f]{64}$", description="salted sha-256 of the audience segment, never the segment"
    )
    locale: str
    source_locale: str | None = None
    """For ``c2pa.translated``: the locale of the parent it was translated from."""
    format: str | None = None
    action: DerivationAction = "c2pa.created"
    source_type: DigitalSourceType = DigitalSourceType.ALGORITHMIC
    ai_training: TrainingUse = "notAllowed"
    job_id: Hex64 | None = Field(default=None, description="salted commitment of the job key")
    caption_model_id: ModelName | None = Field(
        default=None, description="the image-to-text model that captioned the asset for its alt text"
    )
    caption_model_hash: Hex64 | None = Field(
        default=None, description="sha-256 of that captioning model's folder (weights, configs, tokenizer)"
    )
    creator_account: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="a remix's creator's chain account: the only account a UGC attester attests "
        "the remix for, so a copy of it submitted by anyone else earns nothing",
    )

    @field_validator("model_id")
    @classmethod
    def _not_a_path(cls, value: str | None) -> str | None:
        if value is not None and ".." in value:
            raise ValueError("a model or recipe is a name, not a path")
        return value

    def honest_source_type(self) -> str | None:
        """Why this record would mislabel its asset, or None: ``algorithmicMedia`` (no trained
        model ran) must name no model, and only procedural output names a recipe."""
        if not self.source_type.names_model and (self.model_id or self.model_hash):
            return f"it says algorithmicMedia (no trained model ran) but names model {self.model_id!r}"
        if self.source_type.names_model and self.recipe is not None:
            return f"it names the procedural recipe {self.recipe!r} for {self.source_type.term} output"
        return None


@dataclass(frozen=True)
class Parent:
    """A signed asset this one was made from: the parent a derived variant was made from
    (a ``parentOf`` ingredient), or a model layer composited into it (``componentOf``)."""

    data: bytes
    media_type: str
    title: str


@dataclass(frozen=True)
class SignedAsset:
    data: bytes
    """The asset bytes, with the manifest embedded (text: as a C2PA text wrapper at its end)."""
    media_type: str
    manifest: bytes
    """The C2PA manifest store (JUMBF) bytes; also written as ``<name>.c2pa`` when ``sidecar``."""
    manifest_hash: bytes
    """sha-256 of ``manifest``; part of the transparency-log leaf."""
    sidecar: bool


class AssetSigner(Protocol):
    """Signs an artifact with a Content Credential. Raises SigningError, never returns unsigned."""

    def sign(
        self,
        data: bytes,
        media_type: str,
        record: GenerationRecord,
        *,
        title: str,
        parent: Parent | None = None,
        components: tuple[Parent, ...] = (),
    ) -> SignedAsset: ...
