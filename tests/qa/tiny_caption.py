"""A tiny random-weight image-to-text model for the caption tests, built locally (nothing is downloaded).

A VisionEncoderDecoder (a 1-layer ViT encoder, a 1-layer BERT decoder with cross-attention) and a
generated word vocabulary, saved with ``save_pretrained``: a stand-in for a real captioning model
in tests, loaded back through the same ``from_pretrained`` path a real model takes.
Its special tokens are made unlikely, so its greedy caption is a handful of (random) words.
"""

from __future__ import annotations

from pathlib import Path

TINY_CAPTION_ID = "mintloom/tiny-random-captioner"
"""The name manifests show for the tiny model: labelled as a random-weight stand-in."""

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = [
    "a",
    "photo",
    "of",
    "the",
    "blue",
    "red",
    "green",
    "white",
    "black",
    "sky",
    "sea",
    "cup",
    "coffee",
    "person",
    "people",
    "city",
    "street",
    "beach",
    "sunset",
    "bright",
    "dark",
    "poster",
    "with",
    "text",
    "and",
    "logo",
    "on",
    "table",
    "morning",
    "light",
    "warm",
    "cold",
    "bottle",
    "shop",
]


def build_tiny_captioner(folder: Path, seed: int = 0) -> Path:
    """Save a random-weight captioning model (config, weights, processor, tokenizer) in ``folder``."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(_SPECIAL + _WORDS)}, do_lower_case=True)
    # large random weights (initializer_range): the picture, not the position, picks the words
    small: dict[str, object] = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    small |= {"intermediate_size": 37, "initializer_range": 0.5}
    encoder = ViTConfig(image_size=32, patch_size=8, **small)
    decoder = BertConfig(
        vocab_size=len(_SPECIAL) + len(_WORDS),
        is_decoder=True,
        add_cross_attention=True,
        max_position_embeddings=64,
        **small,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    special = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.sep_token_id,
    }
    for name, value in special.items():
        setattr(config, name, value)
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config)
    for name, value in special.items():
        setattr(model.generation_config, name, value)
    with torch.no_grad():  # words, not special tokens, win the greedy argmax
        model.decoder.cls.predictions.bias[: len(_SPECIAL)] = -1e4
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
