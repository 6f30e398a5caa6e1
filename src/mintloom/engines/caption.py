"""A local image-to-text model as the captioning engine (optional extra: ``mintloom[transformers]``).

Alt text can describe the picture, not only repeat the ad's copy: the spec's ``captions`` names a
local model folder (VisionEncoderDecoder / BLIP class, saved with ``save_pretrained``), loaded
with ``local_files_only`` through ``AutoModelForImageTextToText``, its image processor and its
tokenizer, the way a real model is loaded. Decoding is greedy with the torch seed fixed to the
request's (derived from the job's identity), so a job's caption is the same on every run.

``model_hash`` is a SHA-256 over every file of the folder (relative name and bytes), computed once
per process and folder (keyed by the files' sizes and mtimes), not once per image. The artifact
records the model id and hash, never the folder.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import threading
from pathlib import Path
from typing import Any

from mintloom.engines.base import Artifact, GenerationRequest, expect_params, text_artifact
from mintloom.engines.params import CaptionParams
from mintloom.errors import EngineError, ModelLoadError
from mintloom.provenance.credentials import GenerationParameters

MAX_CAPTION = 300
"""Characters of a caption kept (alt text is read aloud: long text is noise)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

_Signature = tuple[tuple[str, int, int], ...]
_hash_lock = threading.Lock()
_hashes: dict[tuple[str, _Signature], str] = {}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def hash_folder(folder: Path) -> str:
    """SHA-256 over (relative name, bytes) of every file of ``folder`` (weights, configs,
    tokenizer, processor: all shape the caption)."""
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def caption_model_hash(folder: Path) -> str:
    """:func:`hash_folder` of a caption model folder, once per process while its files are unchanged."""
    folder = folder.resolve()
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{folder} is not a model folder (no config.json)",
            hint="set captions.model_path to a folder saved with save_pretrained",
        )
    files = _files(folder)
    key = (str(folder), tuple((p.relative_to(folder).as_posix(), *_stat(p)) for p in files))
    with _hash_lock:
        if key not in _hashes:
            _hashes[key] = hash_folder(folder)
        return _hashes[key]


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any, Any]:
    """(image processor, tokenizer, model) of the folder, kept for the process."""
    try:
        from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise EngineError(
            "the captioning engine needs torch and transformers",
            hint="pip install 'mintloom[transformers]'",
        ) from exc
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # foreign loaders (safetensors, tokenizers) raise their own types
        raise ModelLoadError(f"cannot load the captioning model at {path}: {exc}") from exc
    model.eval()
    return processor, tokenizer, model


def _greedy_caption(path: Path, image: bytes, seed: int, max_new: int) -> str:
    """The model's greedy caption of the encoded ``image``."""
    import torch
    from PIL import Image, UnidentifiedImageError

    processor, tokenizer, model = _load(str(path.resolve()))
    try:
        with Image.open(io.BytesIO(image)) as img:
            rgb = img.convert("RGB")
        torch.manual_seed(seed)
        pixels = processor(images=rgb, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = model.generate(pixel_values=pixels, do_sample=False, num_beams=1, max_new_tokens=max_new)
        return str(tokenizer.decode(out[0], skip_special_tokens=True))
    except (OSError, ValueError, RuntimeError, UnidentifiedImageError) as exc:
        raise EngineError(f"captioning with the model at {path} failed: {exc}") from exc


def clean_caption(text: str) -> str:
    """One line of plain text: control characters and runs of spaces collapsed, length capped."""
    line = re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip()
    return line[:MAX_CAPTION].rstrip()


class CaptionEngine:
    """Image in (``CaptionParams.image``), caption out: a ``trainedAlgorithmicMedia`` text artifact."""

    name = "transformers-caption"
    version = "1.0.0"
    params_type = CaptionParams

    def generate(self, request: GenerationRequest) -> Artifact:
        params = expect_params(self, request, "copy", CaptionParams)
        if not params.image:
            raise EngineError("the captioning engine was given no image to describe")
        path = Path(params.model_path)
        model_hash = caption_model_hash(path)
        text = clean_caption(_greedy_caption(path, params.image, request.seed, params.max_new_tokens))
        model_id = params.model_id or f"local-{model_hash[:16]}"
        recorded = GenerationParameters(max_new_tokens=params.max_new_tokens, decoding="greedy")
        return text_artifact(
            self, request, text, recorded, model_id=model_id, model_hash=model_hash, trained=True
        )
