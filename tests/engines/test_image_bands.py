"""The compositor's background is computed band by band of rows (its float planes stay in a
core's cache): the same pixels whatever the band height, and working memory of a band, not of
the canvas. The PNG and the QA gate share one copy of the pixels out of Pillow."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from mintloom.engines import image as image_module
from mintloom.engines.base import FORMATS, BrandStyle, GenerationRequest
from mintloom.engines.image import ImageCompositor, Recipe, render_background
from mintloom.engines.params import ImageParams
from mintloom.engines.qa import measure

PALETTE = ("#0b3d91", "#1e88e5", "#ffb300", "#fafafa")


@pytest.mark.parametrize(("width", "height"), [(1080, 1080), (728, 90), (97, 61), (160, 600)])
@pytest.mark.parametrize("mirror", [False, True])
def test_every_band_height_draws_the_same_pixels(
    monkeypatch: pytest.MonkeyPatch, width: int, height: int, mirror: bool
) -> None:
    """One row per band, odd bands that split shapes anywhere, and one band holding the whole
    canvas (what the code computed before bands) give identical bytes."""
    outputs = []
    for tile in (1, 7 * width + 3, 1 << 16, width * height):
        monkeypatch.setattr(image_module, "_TILE_PIXELS", tile)
        for seed in (1, 2, 9):
            img = render_background(Recipe.from_seed(seed, PALETTE), width, height, mirror, "RGBA")
            outputs.append((tile, seed, img.tobytes()))
    by_seed: dict[int, set[bytes]] = {}
    for _tile, seed, data in outputs:
        by_seed.setdefault(seed, set()).add(data)
    assert all(len(variants) == 1 for variants in by_seed.values())
    assert len({data for _, _, data in outputs}) == 3  # three seeds, three different designs


def test_the_background_works_in_a_band_not_the_whole_canvas() -> None:
    """Peak memory while drawing a 1080x1080 background stays near the output (3.5 MB of RGB):
    whole-canvas float32 planes, as before, took 14 MB (three planes) and more on top."""
    recipe = Recipe.from_seed(4, PALETTE)
    render_background(recipe, 1080, 1080)  # warm
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        img = render_background(recipe, 1080, 1080)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert img.size == (1080, 1080)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"


def test_the_png_and_the_qa_gate_read_one_copy_of_the_pixels() -> None:
    """render_pixels hands over the array it encoded: it is the image's pixels, the PNG decodes
    to it, and the QA gate measures the same from it as from the image."""
    params = ImageParams(headline="Summer sale", body="Free delivery on all orders.", cta="Shop now")
    request = GenerationRequest(
        kind="image",
        seed=3,
        locale="en-US",
        brand=BrandStyle(palette=PALETTE),
        format=FORMATS["square"],
        params=params,
    )
    rendered = ImageCompositor().render_pixels(request)
    assert rendered.array is not None and rendered.layout is not None
    assert np.array_equal(rendered.array, np.asarray(rendered.pixels))
    with Image.open(io.BytesIO(rendered.artifact.data)) as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), rendered.array)
    from_image = measure(rendered.pixels, rendered.layout, PALETTE)
    assert measure(rendered.pixels, rendered.layout, PALETTE, rendered.array) == from_image
