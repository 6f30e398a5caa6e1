"""A local Hugging Face causal LM as a copy engine (optional extra: ``mintloom[transformers]``).

The model is loaded from a local folder only (``local_files_only``; nothing is fetched from a
hub). ``model_hash`` is the SHA-256 over the folder's weight files (name and bytes, sorted by
name), so an artifact names exactly the weights that made it. Decoding is greedy with the torch
seed fixed, so the same request on the same weights gives the same text. transformers and torch
are imported only when the engine generates.

Parameters (:class:`~mintloom.engines.params.TransformersParams`, the spec's ``copy.model``):
``model_path`` (or the constructor's), ``template`` (rendered here, once: the prompt),
``max_new_tokens`` (default 40), ``model_id`` (the name manifests show, e.g. ``org/model``).
The artifact records the model id and weights hash, never the folder or the prompt.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any

from mintloom.engines.base import (
    Artifact,
    GenerationRequest,
    expect_params,
    recorded_copy_parameters,
    text_artifact,
)
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import TransformersParams
from mintloom.errors import EngineError, SpecError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")


def weights_hash(folder: Path) -> str:
    """SHA-256 over (name, bytes) of every weights file in ``folder``, by name."""
    if not folder.is_dir():
        raise EngineError(f"model folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise EngineError(f"no weights files ({', '.join(WEIGHT_SUFFIXES)}) in {folder}")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def _model_id(given: str | None, model_hash: str) -> str:
    """The model's recorded name: ``model_id`` from the spec (a hub-style name), else one derived
    from the weights hash. Never the folder: transformers names a local model by its path."""
    if given is None:
        return f"local-{model_hash[:16]}"
    if not _MODEL_ID.match(given) or ".." in given:
        raise SpecError(
            f"model_id must be a name like 'org/model', not {given!r}",
            hint="the model folder goes in model_path; model_id is what manifests show",
        )
    return given


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


def _greedy(path: Path, prompt: str, seed: int, max_new: int) -> str:
    """Greedy decoding of ``prompt`` with the model at ``path``: the new text only."""
    try:
        import torch
    except ImportError as exc:
        raise EngineError(
            "the transformers engine needs torch and transformers",
            hint="pip install 'mintloom[transformers]'",
        ) from exc
    try:
        tokenizer, model = _load(str(path.resolve()))
        torch.manual_seed(seed)
        inputs = tokenizer(prompt, return_tensors="pt")
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.no_grad():
            output = model.generate(
                **inputs, do_sample=False, num_beams=1, max_new_tokens=max_new, pad_token_id=pad_id
            )
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        return str(tokenizer.decode(new_tokens, skip_special_tokens=True))
    except (OSError, ValueError, RuntimeError) as exc:
        raise EngineError(f"generating with the model at {path} failed: {exc}") from exc


class TransformersTextEngine:
    name = "transformers-text"
    version = "1.0.0"
    params_type = TransformersParams

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else None

    def generate(self, request: GenerationRequest) -> Artifact:
        params = expect_params(self, request, "copy", TransformersParams)
        path = Path(params.model_path) if params.model_path is not None else self.model_path
        if path is None:
            raise SpecError("transformers-text needs copy.model.model_path (a local model folder)")
        if not path.is_dir():
            raise EngineError(f"model folder {path} does not exist")
        prompt = CopyEngine().render_template(params.template, request.locale).strip()
        if not prompt:
            raise SpecError("transformers-text needs a prompt: the copy template rendered empty")
        model_hash = weights_hash(path)
        text = _greedy(path, prompt, request.seed, params.max_new_tokens)
        if not text.strip():
            raise EngineError(
                f"the model at {path} wrote no text for this prompt",
                hint="raise max_new_tokens or change the copy template",
            )
        model_id = _model_id(params.model_id, model_hash)
        return text_artifact(
            self,
            request,
            text,
            recorded_copy_parameters(
                params.template, max_new_tokens=params.max_new_tokens, decoding="greedy"
            ),
            model_id=model_id,
            model_hash=model_hash,
            trained=True,
            tags={"model": model_id},
            prompt=prompt,
        )
