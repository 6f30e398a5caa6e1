"""What a Content Credential says about a generated asset, and the signer interface.

This module is the contract between ``campaign/`` (which produces artifacts) and the C2PA
implementation in ``provenance/``: the campaign pipeline builds a :class:`GenerationRecord`
per artifact and hands bytes + record to an :class:`AssetSigner`; it gets back the asset
with its manifest embedded (or, for formats C2PA cannot embed into, a sidecar manifest).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


class DigitalSourceType(StrEnum):
    """IPTC digital source types used in ``c2pa.actions``."""

    TRAINED_ALGORITHMIC = IPTC + "trainedAlgorithmicMedia"  # output of a trained model
    ALGORITHMIC = IPTC + "algorithmicMedia"  # procedural, no trained model
    COMPOSITE_WITH_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"


DerivationAction = Literal["c2pa.created", "c2pa.resized", "c2pa.translated", "c2pa.edited", "c2pa.converted"]
TrainingUse = Literal["allowed", "notAllowed", "constrained"]


class GenerationRecord(BaseModel):
    """The ``mintloom.generation`` assertion: what made this asset. Never holds personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = Field(min_length=1)
    engine_version: str = Field(min_length=1)
    model_id: str | None = None
    model_hash: str | None = Field(default=None, description="hex sha-256 of the model weights/program")
    dataset_ids: tuple[str, ...] = ()
    template_hash: str | None = Field(default=None, description="hex sha-256 of the copy/layout template")
    seed: int
    parameters: dict[str, Any] = Field(default_factory=dict)
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
    job_id: str | None = None


@dataclass(frozen=True)
class Parent:
    """The signed parent asset a derived variant was made from (becomes a ``parentOf`` ingredient)."""

    data: bytes
    media_type: str
    title: str


@dataclass(frozen=True)
class SignedAsset:
    data: bytes
    """The asset bytes; with the manifest embedded unless ``sidecar`` is true."""
    media_type: str
    manifest: bytes
    """The C2PA manifest store (JUMBF) bytes; written as ``<name>.c2pa`` when ``sidecar``."""
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
    ) -> SignedAsset: ...
