"""LoRA fine-tuning of a local diffusers text-to-image pipeline's UNet (extras ``train`` and
``diffusion``).

The pipeline is read from a local folder only. LoRA adapters (``peft``) go on the UNet's attention
projections; each image is encoded by the pipeline's VAE and the UNet learns to predict the noise
a DDPM schedule added to it, conditioned on the image's caption (its file name's words). The
adapter is fused into the UNet and the whole pipeline saved as SafeTensors, so the text-to-image
engine (:mod:`mintloom.engines.diffusion`) loads it like any pipeline folder. Deterministic for a
seed on one device (fixed order, seeded noise and timesteps, torch's deterministic algorithms);
written under a temporary name and swapped in whole, as :mod:`mintloom.engines.training` does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mintloom.engines.diffusion import pipeline_hash
from mintloom.engines.training import LoraParams, write_trained
from mintloom.errors import EngineError, ModelLoadError

if TYPE_CHECKING:
    from PIL import Image

ATTENTION = ("to_q", "to_k", "to_v", "to_out.0")
"""The UNet's attention projections the adapters train (the usual diffusion LoRA targets)."""


@dataclass(frozen=True)
class Sample:
    """One training image: its bytes and its caption."""

    image: bytes
    caption: str


def is_pipeline(folder: Path) -> bool:
    """A diffusers pipeline folder (as opposed to a causal text model)."""
    return (folder / "model_index.json").is_file()


def caption_of(name: str) -> str:
    """A caption from a file name: its stem's words (``shoot-1.png`` → ``shoot 1``)."""
    stem = Path(name).stem
    return " ".join(stem.replace("-", " ").replace("_", " ").split()) or "a photo"


def train_diffusion_lora(
    base: Path, samples: list[Sample], out: Path, *, seed: int, params: LoraParams
) -> str:
    """Fine-tune the UNet of the pipeline at ``base`` on ``samples`` with LoRA, write the fused
    pipeline to ``out`` (replaced whole) and return its hash (as the engine records it)."""
    if not samples:
        raise EngineError("nothing to train on: the dataset has no images")

    def fit_and_save(tmp: Path) -> None:
        pipe = _load(base, params)
        _fit(pipe, samples, params, seed)
        pipe.unet.fuse_lora()
        pipe.unet.unload_lora()
        pipe.save_pretrained(tmp, safe_serialization=True)

    write_trained(base, out, seed, fit_and_save, needs="torch, diffusers and peft", extra="train,diffusion")
    return pipeline_hash(out)


def _load(base: Path, params: LoraParams) -> Any:
    import diffusers
    from peft import LoraConfig

    diffusers.utils.logging.set_verbosity_error()
    try:
        pipe = diffusers.StableDiffusionPipeline.from_pretrained(str(base), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ModelLoadError(f"cannot load the base pipeline at {base}: {exc}") from exc
    for part in (pipe.vae, pipe.text_encoder, pipe.unet):
        part.requires_grad_(False)
    targets = list(params.target_modules) or list(ATTENTION)
    config = LoraConfig(r=params.rank, lora_alpha=params.alpha, lora_dropout=0.0, target_modules=targets)
    pipe.unet.add_adapter(config)
    return pipe


def _fit(pipe: Any, samples: list[Sample], params: LoraParams, seed: int) -> None:
    """AdamW on the adapters: per image, seeded noise at a seeded timestep, MSE on the noise."""
    import torch
    from diffusers import DDPMScheduler

    noise_schedule = DDPMScheduler.from_config(pipe.scheduler.config)
    size = int(pipe.vae.config.sample_size)
    with torch.no_grad():
        latents = [_latent(pipe, s.image, size) for s in samples]
        texts = [_embed(pipe, s.caption) for s in samples]
    trainable = [p for p in pipe.unet.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=params.learning_rate)
    generator = torch.Generator("cpu").manual_seed(seed)
    steps = int(noise_schedule.config.num_train_timesteps)
    pipe.unet.train()
    for _ in range(params.epochs):
        for latent, text in zip(latents, texts, strict=True):
            noise = torch.randn(latent.shape, generator=generator)
            t = torch.randint(0, steps, (1,), generator=generator)
            noisy = noise_schedule.add_noise(latent, noise, t)
            pred = pipe.unet(noisy, t, encoder_hidden_states=text).sample
            loss = torch.nn.functional.mse_loss(pred, noise)
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    pipe.unet.eval()


def _latent(pipe: Any, data: bytes, size: int) -> Any:
    """The VAE's scaled latent of one image, resized to the VAE's sample size."""
    import numpy as np
    import torch

    rgb = training_pixels(data, size)
    pixels = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    latent = pipe.vae.encode(pixels).latent_dist.mode()
    return latent * float(pipe.vae.config.scaling_factor)


def training_pixels(data: bytes, size: int) -> Image.Image:
    """One training image as RGB at ``size``², its header checked against verify's decode bound
    first: a dataset file (anyone's, signed or not) may claim gigapixels in a few bytes."""
    from PIL import Image, UnidentifiedImageError

    from mintloom.provenance.fingerprint import MAX_PIXELS

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise EngineError(
                    f"a training image is {im.width}x{im.height} pixels, over the limit of "
                    f"{MAX_PIXELS // 1_000_000} megapixels (a decompression bomb?)",
                    hint="remove it from the dataset, or ingest a downscaled copy",
                )
            return im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    except Image.DecompressionBombError as exc:
        raise EngineError(f"a training image is over the limit of Pillow's bomb check: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EngineError(f"a training image cannot be decoded: {exc}") from exc


def _embed(pipe: Any, caption: str) -> Any:
    ids = pipe.tokenizer(
        caption, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True,
        return_tensors="pt",
    ).input_ids  # fmt: skip
    return pipe.text_encoder(ids)[0]
