"""Generators behind one small Protocol."""

from mintloom.engines.base import Artifact, BrandStyle, Engine, Format, GenerationRequest, engine_registry

__all__ = ["Artifact", "BrandStyle", "Engine", "Format", "GenerationRequest", "engine_registry"]
