from __future__ import annotations

from pathlib import Path

import pytest

from tests.engines.tiny_model import build_tiny_gpt2

COPY = {
    "summer.txt": "summer sale now",
    "deals.txt": "shop the best deals today",
    "half.txt": "half price today",
    "sale.txt": "the best sale now",
}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight GPT-2 the copy engine tests use, built once (no download)."""
    import torch

    torch.set_num_threads(1)  # 2 shared cores: one thread keeps training fast and deterministic
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-base") / "model")


def copy_folder(root: Path) -> Path:
    """The brand's past copy, with one file its author opted out of training (the opt-out list)."""
    folder = root / "copy"
    folder.mkdir()
    for name, text in COPY.items():
        (folder / name).write_text(text)
    (folder / "private.txt").write_text("today half price")
    return folder
