"""Generators behind one small Protocol; a third-party engine subclasses :class:`EngineParams`
for its parameters and registers under the ``mintloom.engines`` entry point group."""

from mintloom.engines.base import Artifact, BrandStyle, Engine, Format, GenerationRequest, engine_registry
from mintloom.engines.params import CopyTemplate, EngineParams

__all__ = [
    "Artifact",
    "BrandStyle",
    "CopyTemplate",
    "Engine",
    "EngineParams",
    "Format",
    "GenerationRequest",
    "engine_registry",
]
