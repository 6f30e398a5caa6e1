"""Thumbnails made from a worker's pixels are the ones made from the stored PNG (the gallery
serves either under one CID), sized as PIL's ``thumbnail`` sizes them, close to a one-pass
bicubic thumbnail."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mintloom.store.thumbnails import REDUCING_GAP, THUMB_EDGE, fitted_size, render_thumbnail, thumbnail_of


def _ad(width: int, height: int) -> Image.Image:
    """A gradient with hard-edged shapes and text, as an ad has."""
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    pixels = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 8, height // 8, width // 3, height // 3), fill="#f1faee")
    draw.text((width // 10, height // 2), "Offer ends Friday", fill="#111111", font_size=max(4, height // 12))
    return img


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "size", [(1080, 1080), (1920, 1080), (1080, 1920), (728, 90), (1200, 628), (300, 250), (2000, 3)]
)
def test_thumbnail_of_pixels_is_the_thumbnail_of_their_png(size: tuple[int, int]) -> None:
    img = _ad(*size)
    before = img.tobytes()
    made = thumbnail_of(img)
    assert img.tobytes() == before and img.size == size  # the caller's pixels stay whole
    assert made == render_thumbnail(_png(img))
    with Image.open(io.BytesIO(made)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= THUMB_EDGE
        assert thumb.size == fitted_size(*size, THUMB_EDGE)


def test_fitted_size_is_pils_thumbnail_size() -> None:
    rng = np.random.default_rng(5)
    sizes = [(int(w), int(h)) for w, h in rng.integers(1, 4000, (300, 2))]
    sizes += [(320, 320), (321, 320), (320, 1), (1, 5000), (5000, 1), (641, 320), (100, 100)]
    for width, height in sizes:
        img = Image.new("1", (width, height))
        img.thumbnail((THUMB_EDGE, THUMB_EDGE))
        assert fitted_size(width, height, THUMB_EDGE) == img.size, (width, height)


def test_the_two_step_scaling_stays_close_to_one_bicubic_pass() -> None:
    """Boxing down by a whole factor before the bicubic step moves the thumbnail's pixels by far
    less than its quality-82 JPEG does (29-32 dB PSNR on the example ads)."""
    for size in ((1080, 1080), (1920, 1080), (728, 90)):
        img = _ad(*size)
        one_pass = img.copy()
        one_pass.thumbnail((THUMB_EDGE, THUMB_EDGE))
        two_step = img.resize(one_pass.size, Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
        error = np.mean(
            (np.asarray(two_step, dtype=np.float64) - np.asarray(one_pass, dtype=np.float64)) ** 2
        )
        assert 10 * np.log10(255**2 / error) >= 35, size
