"""A local diffusers text-to-image pipeline as an image engine (optional extra: ``mintloom[diffusion]``).

Any pipeline folder ``DiffusionPipeline.from_pretrained`` loads (SD-Turbo, SDXL-Turbo,
FLUX-schnell class) is read from disk only (``local_files_only``). The noise comes from a
``torch.Generator`` on the CPU seeded with the request's seed (derived from the job's identity),
so the same request on the same folder gives the same pixels, alone or in a batch, on CPU; with
CUDA present the pipeline runs there in fp16 (faster, not bit-identical to CPU).

``model_hash`` is a SHA-256 over every file of the folder (relative name and bytes): weights,
configs, tokenizer and scheduler, all of which shape the pixels. It is computed once per process
and folder, keyed by the files' sizes and mtimes, not once per job. The artifact records model
id, hash, steps, guidance and size, and the prompt only as the runner's salted commitment.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from mintloom.engines.base import Artifact, GenerationRequest, expect_params, model_image_artifact
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import DiffusionParams
from mintloom.errors import EngineError, ModelLoadError, SpecError
from mintloom.provenance.credentials import GenerationParameters
from mintloom.provenance.training import SIDECAR_NAME

ENV_DEVICE = "MINTLOOM_DIFFUSION_DEVICE"
"""``cpu`` or ``cuda`` to override the default (CUDA in fp16 when torch sees a GPU, else CPU)."""
ENV_THREADS = "MINTLOOM_DIFFUSION_THREADS"
"""torch's CPU threads in this process (default: torch's own). Set it to cores ÷ workers: on a
busy or shared machine, oversubscribed threads make small models an order of magnitude slower."""

_Signature = tuple[tuple[str, int, int], ...]
_hash_lock = threading.Lock()
_hashes: dict[tuple[str, _Signature], str] = {}


def _files(folder: Path) -> list[Path]:
    """The pipeline's files; a trained pipeline's signed run record (which names this hash, and
    which diffusers never reads) is not one of them."""
    files = (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return sorted(p for p in files if p != folder / SIDECAR_NAME)


def _signature(folder: Path, files: list[Path]) -> _Signature:
    stats = ((p, p.stat()) for p in files)
    return tuple((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns) for p, st in stats)


def pipeline_hash(folder: Path) -> str:
    """SHA-256 over (relative name, bytes) of every file in ``folder``; cached per process by
    the folder and its files' sizes and mtimes, so a run hashes gigabytes of weights once."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist", hint="set hero.model_path")
    files = _files(folder)
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"{folder} is not a diffusers pipeline folder (no model_index.json)",
            hint="save the pipeline with save_pretrained, or download it with its model_index.json",
        )
    key = (str(folder), _signature(folder, files))
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    with _hash_lock:
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def _device() -> tuple[str, Any]:
    """(device, dtype): the override, else CUDA fp16 when available, else CPU fp32."""
    import torch

    wanted = os.environ.get(ENV_DEVICE, "").strip().lower()
    if wanted not in ("", "cpu", "cuda"):
        raise EngineError(f"{ENV_DEVICE}={wanted!r} is not cpu or cuda")
    cuda = torch.cuda.is_available() if wanted == "" else wanted == "cuda"
    return ("cuda", torch.float16) if cuda else ("cpu", torch.float32)


def _set_threads() -> None:
    """Apply :data:`ENV_THREADS` (checked on every run, so a bad value is never silently kept)."""
    import torch

    if threads := os.environ.get(ENV_THREADS, "").strip():
        if not threads.isdigit() or int(threads) < 1:
            raise EngineError(f"{ENV_THREADS}={threads!r} is not a positive number of threads")
        torch.set_num_threads(int(threads))


@functools.lru_cache(maxsize=2)
def _load(path: str, device: str) -> Any:
    """The pipeline at ``path`` on ``device`` (kept for the process: loading costs seconds)."""
    try:
        import diffusers
        import torch
    except ImportError as exc:
        raise EngineError(
            "the diffusers engine needs diffusers and torch", hint="pip install 'mintloom[diffusion]'"
        ) from exc
    diffusers.utils.logging.set_verbosity_error()
    logging.getLogger("diffusers").setLevel(logging.ERROR)
    dtype = torch.float16 if device == "cuda" else torch.float32
    try:
        pipe = diffusers.DiffusionPipeline.from_pretrained(path, local_files_only=True, torch_dtype=dtype)
        pipe = pipe.to(device)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load the diffusers pipeline at {path}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _model_id(given: str | None, model_hash: str) -> str:
    """The recorded name: the spec's ``model_id``, else one derived from the hash (never the path)."""
    return given if given is not None else f"local-{model_hash[:16]}"


class DiffusersEngine:
    """Text-to-image with a local diffusers pipeline: one PNG per request, or a batch per call."""

    name = "diffusers"
    version = "1.0.0"
    params_type = DiffusionParams

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else None

    def generate(self, request: GenerationRequest) -> Artifact:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Artifact]:
        """One pipeline call for requests sharing folder, steps, guidance and size; each keeps its
        own seeded generator. The same batch gives the same bytes; an image made in a batch may
        differ from the one made alone by one level in a few pixels (batched matmuls sum in
        another order), so a campaign job, which must be byte-reproducible, calls ``generate``."""
        if not requests:
            return []
        prepared = [self._prepare(r) for r in requests]
        groups: dict[tuple[str, int, float, int, int], list[int]] = {}
        for i, (path, p, _, _) in enumerate(prepared):
            groups.setdefault((path, p.steps, p.guidance, p.width, p.height), []).append(i)
        out: dict[int, Artifact] = {}
        for (path, *_), members in groups.items():
            seeds = [requests[i].seed for i in members]
            images = self._run(Path(path), [prepared[i] for i in members], seeds)
            for i, image in zip(members, images, strict=True):
                out[i] = self._artifact(requests[i], prepared[i], image)
        return [out[i] for i in range(len(requests))]

    def _prepare(self, request: GenerationRequest) -> tuple[str, DiffusionParams, str, str]:
        """(resolved folder, params, prompt, model hash) of one request; refused by name."""
        params = expect_params(self, request, "image", DiffusionParams)
        path = Path(params.model_path) if params.model_path is not None else self.model_path
        if path is None:
            raise SpecError("the diffusers engine needs hero.model_path (a local pipeline folder)")
        prompt = CopyEngine().render_template(params.prompt, request.locale).strip()
        if not prompt:
            raise SpecError("the diffusers engine needs a prompt: the prompt template rendered empty")
        return str(path.resolve()), params, prompt, pipeline_hash(path)

    def _run(
        self,
        path: Path,
        batch: list[tuple[str, DiffusionParams, str, str]],
        seeds: list[int],
    ) -> list[Image.Image]:
        import torch

        device, _ = _device()
        _set_threads()
        pipe = _load(str(path), device)
        params = batch[0][1]
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        try:
            with torch.inference_mode():
                result = pipe(
                    [b[2] for b in batch],
                    num_inference_steps=params.steps,
                    guidance_scale=params.guidance,
                    width=params.width,
                    height=params.height,
                    generator=generators,
                    output_type="pil",
                )
        except (RuntimeError, ValueError, TypeError) as exc:
            raise EngineError(f"the diffusers pipeline at {path} failed: {exc}") from exc
        images = list(result.images)
        if len(images) != len(batch):
            raise EngineError(f"the pipeline at {path} made {len(images)} images for {len(batch)} prompts")
        return [img.convert("RGB") for img in images]

    def _artifact(
        self, request: GenerationRequest, prepared: tuple[str, DiffusionParams, str, str], image: Image.Image
    ) -> Artifact:
        from mintloom.engines.image import encode

        _, params, prompt, model_hash = prepared
        model_id = _model_id(params.model_id, model_hash)
        parameters = GenerationParameters(
            width=image.width, height=image.height, steps=params.steps, guidance=params.guidance
        )
        return model_image_artifact(
            self,
            request,
            encode(image, "png"),
            parameters,
            model_id=model_id,
            prompt=prompt,
            model_hash=model_hash,
        )
