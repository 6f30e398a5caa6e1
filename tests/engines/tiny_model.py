"""A tiny randomly initialised GPT-2 with a word-level tokenizer, built locally (no downloads)."""

from __future__ import annotations

from pathlib import Path

from mintloom.engines.tiny_text import build_tiny_text_model

WORDS = ["<unk>", "<eos>", "summer", "sale", "now", "shop", "the", "best", "deals", "today", "half", "price"]


def build_tiny_gpt2(folder: Path) -> Path:
    return build_tiny_text_model(folder, WORDS)
