"""A tiny randomly initialised GPT-2 with a word-level tokenizer, built locally (no downloads)."""

from __future__ import annotations

from pathlib import Path

WORDS = ["<unk>", "<eos>", "summer", "sale", "now", "shop", "the", "best", "deals", "today", "half", "price"]


def build_tiny_gpt2(folder: Path) -> Path:
    import tokenizers
    import torch
    import transformers

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(WORDS), n_positions=64, n_embd=32, n_layer=1, n_head=2, eos_token_id=1, bos_token_id=1
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
