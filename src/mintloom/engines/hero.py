"""The text-to-image hero layer of an ad: made by the diffusers or openai-images engine once per
segment × locale (the request's seed) and cached in the worker, so every format of that design
reflows its copy over the same picture.

Without ``model_path`` the diffusers hero uses the tiny random-weight pipeline
(:mod:`~mintloom.engines.tiny_diffusion`), built once under :data:`ENV_TINY_DIR` (default
``~/.cache/mintloom/tiny-random-sd``) and named ``mintloom/tiny-random-sd``: a labelled stand-in.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

from PIL import Image

from mintloom.engines.base import Artifact, GenerationRequest
from mintloom.engines.diffusion import ENV_THREADS
from mintloom.engines.params import DiffusionParams, ImagesApiParams

ENV_TINY_DIR = "MINTLOOM_TINY_MODEL_DIR"
_CACHE_SIZE = 8
_lock = threading.Lock()
_cache: dict[tuple[str, int, str], Artifact] = {}


def tiny_model_dir() -> Path:
    """Where the tiny stand-in pipeline lives (built there on first use)."""
    if env := os.environ.get(ENV_TINY_DIR):
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mintloom" / "tiny-random-sd"


def _resolved(hero: DiffusionParams | ImagesApiParams) -> DiffusionParams | ImagesApiParams:
    if not isinstance(hero, DiffusionParams) or hero.model_path is not None:
        return hero
    from mintloom.engines.tiny_diffusion import TINY_MODEL_ID, ensure_tiny_pipeline

    if not os.environ.get(ENV_THREADS):  # a tiny model: more threads only contend
        import torch

        torch.set_num_threads(1)
    folder = ensure_tiny_pipeline(tiny_model_dir())
    return hero.model_copy(update={"model_path": str(folder), "model_id": hero.model_id or TINY_MODEL_ID})


def hero_layer(request: GenerationRequest, hero: DiffusionParams | ImagesApiParams) -> Artifact:
    """The hero for ``request``'s design (seed and locale), generated once per worker."""
    key = (hero.model_dump_json(), request.seed, request.locale)
    with _lock:
        if key in _cache:
            return _cache[key]
    params = _resolved(hero)
    sub = request.model_copy(update={"kind": "image", "params": params, "format": None})
    if isinstance(params, DiffusionParams):
        from mintloom.engines.diffusion import DiffusersEngine

        art = DiffusersEngine().generate(sub)
    else:
        from mintloom.engines.openai_images import OpenAIImagesEngine

        art = OpenAIImagesEngine().generate(sub)
    art = art.model_copy(update={"template_hash": hashlib.sha256(hero.prompt.source.encode()).hexdigest()})
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = art
    return art


def cover(layer: Artifact, width: int, height: int) -> Image.Image:
    """The layer scaled to cover ``width`` × ``height`` and centre-cropped (RGBA, opaque)."""
    with Image.open(io.BytesIO(layer.data)) as img:
        rgb = img.convert("RGB")
    scale = max(width / rgb.width, height / rgb.height)
    w, h = max(width, round(rgb.width * scale)), max(height, round(rgb.height * scale))
    big = rgb.resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - width) // 2, (h - height) // 2
    return big.crop((left, top, left + width, top + height)).convert("RGBA")
