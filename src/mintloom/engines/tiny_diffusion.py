"""A tiny random-weight Stable Diffusion pipeline, built locally (nothing is downloaded).

It makes noise-like 64×64 images in milliseconds per step: a stand-in for a real model in tests,
``make bench`` and the example campaign when no model folder is configured (its model id says
so: ``mintloom/tiny-random-sd``). It is saved with ``save_pretrained`` and loaded back through
the same ``DiffusionPipeline.from_pretrained`` path a real model takes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

TINY_MODEL_ID = "mintloom/tiny-random-sd"
"""The name manifests show for the tiny pipeline: labelled as a random-weight stand-in."""

_WORDS = [
    "a",
    "photo",
    "of",
    "the",
    "summer",
    "winter",
    "sale",
    "coffee",
    "cup",
    "beach",
    "sunset",
    "city",
    "street",
    "blue",
    "red",
    "warm",
    "light",
    "hero",
    "background",
    "morning",
    "cafe",
    "bright",
    "soft",
]


def _tokenizer(folder: Path) -> object:
    """A CLIP BPE tokenizer over a generated vocabulary (whole words and single letters)."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz0123456789":
        vocab.setdefault(letter, len(vocab))
        vocab.setdefault(letter + "</w>", len(vocab))
    for word in _WORDS:
        vocab.setdefault(word + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32)


def build_tiny_pipeline(folder: Path, seed: int = 0) -> Path:
    """Write a tiny random-weight StableDiffusionPipeline (UNet, VAE, CLIP text encoder,
    tokenizer, Euler scheduler) into ``folder``; deterministic in ``seed``. Returns ``folder``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _tokenizer(Path(tmp))
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),  # type: ignore[arg-type]
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                max_position_embeddings=32,
                projection_dim=16,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
            )
        )
        unet = UNet2DConditionModel(
            sample_size=8,
            layers_per_block=1,
            block_out_channels=(8, 16),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16,
            attention_head_dim=2,
            norm_num_groups=4,
        )
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(4, 4, 4, 4),
            latent_channels=4,
            norm_num_groups=2,
            sample_size=64,
            layers_per_block=1,
        )
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=EulerDiscreteScheduler(timestep_spacing="trailing", steps_offset=1),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        folder.mkdir(parents=True, exist_ok=True)
        pipe.save_pretrained(folder)
    return folder


def ensure_tiny_pipeline(folder: Path) -> Path:
    """The tiny pipeline at ``folder``, built there once (atomically: a half-built folder is never
    seen by a concurrent run)."""
    if (folder / "model_index.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=folder.parent))
    build_tiny_pipeline(staging)
    try:
        staging.rename(folder)
    except OSError:  # built concurrently by another process: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return folder
