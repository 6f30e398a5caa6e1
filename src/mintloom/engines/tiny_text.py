"""A tiny randomly initialised GPT-2 with a word-level tokenizer over a brand's words, built
locally (no download): the demo's base copy model, small enough to fine-tune in a second on CPU."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

WORDS = ("<unk>", "<eos>", "light", "lumen", "your", "home", "glow", "new", "lamps", "warm", "bright",
         "nights", "the", "with", "shop", "now", "soft", "evenings")  # fmt: skip


def build_tiny_text_model(folder: Path, words: Sequence[str] = WORDS) -> Path:
    """Write the model and tokenizer over ``words`` (the first two ``<unk>`` and ``<eos>``) to
    ``folder`` (the same bytes for the same words)."""
    import tokenizers
    import torch
    import transformers

    vocab = {w: i for i, w in enumerate(words)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(words), n_positions=64, n_embd=32, n_layer=1, n_head=2, eos_token_id=1, bos_token_id=1
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
