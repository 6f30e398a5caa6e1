"""The brand QA measurements: the fast paths (channel-distance tables, a counted 95th
percentile, a numpy 3x3 dilation, one partition for the 5th percentile) give exactly what the
straightforward definitions give — on rendered ads of every format, and on the edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from mintloom.campaign.examples import example_source
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry
from mintloom.engines.image import ImageCompositor
from mintloom.engines.qa import (
    BACKGROUND_PERCENTILE,
    GLYPH_TOLERANCE,
    LayoutFacts,
    TextFacts,
    dilate3,
    measure,
    percentile,
    percentile_of,
    srgb_linear_lut,
    text_contrast,
)


def _reference_text_contrast(pixels: NDArray[np.uint8], text: TextFacts) -> tuple[float, float]:
    """``text_contrast`` as first written: int16 distances, ``np.percentile``, PIL's MaxFilter,
    the background pixels gathered before their luminance."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = max(0, text.ink[0]), max(0, text.ink[1]), min(w, text.ink[2]), min(h, text.ink[3])
    if x0 >= x1 or y0 >= y1:
        return 1.0, 0.0
    step = max(1, text.size // 24)
    crop = pixels[y0:y1:step, x0:x1:step]
    colour = np.array([int(text.colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    dist = np.abs(crop.astype(np.int16) - colour).max(axis=2)
    limit = max(GLYPH_TOLERANCE, 0.5 * float(np.percentile(dist, 95)))
    glyph = dist <= limit
    near = np.asarray(Image.fromarray(glyph.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0
    background = crop[~near]
    if background.shape[0] < 16:
        pad = max(2, text.size // 8)
        ox0, oy0, ox1, oy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
        outer = pixels[oy0:oy1, ox0:ox1]
        mask = np.ones(outer.shape[:2], dtype=bool)
        mask[y0 - oy0 : y1 - oy0, x0 - ox0 : x1 - ox0] = False
        background = outer[mask]
    lut = srgb_linear_lut()

    def lum(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
        red, green, blue = lut[rgb[..., 0]], lut[rgb[..., 1]], lut[rgb[..., 2]]
        out: NDArray[np.float64] = 0.2126 * red + 0.7152 * green + 0.0722 * blue
        return out

    text_lum = float(lum(colour.astype(np.uint8)))
    ratios = (np.maximum(lum(background), text_lum) + 0.05) / (np.minimum(lum(background), text_lum) + 0.05)
    contrast = float(np.percentile(ratios, BACKGROUND_PERCENTILE)) if ratios.size else 1.0
    return round(contrast, 3), round(float(glyph.mean()), 4)


def _example_ads(every: int) -> list[tuple[Image.Image, NDArray[np.uint8] | None, LayoutFacts]]:
    loaded = load_spec(example_source("lumen") / "campaign.yaml")
    jobs = [j for j in plan_campaign(loaded, engine_registry()).jobs if j.kind == "image"][::every]
    out = []
    for job in jobs:
        rendered = ImageCompositor().render_pixels(job.request)
        assert rendered.layout is not None
        out.append((rendered.pixels, rendered.array, rendered.layout))
    return out


@pytest.fixture(scope="module")
def ads() -> list[tuple[Image.Image, NDArray[np.uint8] | None, LayoutFacts]]:
    """Every 8th ad of the example campaign (28 ads, each of its formats)."""
    return _example_ads(8)


def test_text_contrast_of_rendered_ads_is_the_reference_measure(
    ads: list[tuple[Image.Image, NDArray[np.uint8] | None, LayoutFacts]],
) -> None:
    assert len({img.size for img, _, _ in ads}) >= 5  # the formats, not one size
    for img, array, layout in ads:
        pixels = array if array is not None else np.asarray(img.convert("RGB"))
        for text in layout.texts:
            expected = _reference_text_contrast(pixels, text)
            assert text_contrast(pixels, text) == expected, (img.size, text.field)


def test_low_contrast_ads_measure_as_the_reference(tmp_path: Path) -> None:
    """The grey brand kit (contrast near 4.5:1, drawn over a scrim where it falls short): the same numbers."""
    grey = sample_spec(locales=("en-US",), formats=("medium-rectangle", "square"), copy=False, audio=False)
    grey = grey.replace('["#1d3557", "#e63946", "#f1faee"]', '["#7a7a7a", "#787878", "#7c7c7c"]')
    spec = load_spec(write_sample_campaign(tmp_path / "grey", grey, sample_audience(2)))
    jobs = [j for j in plan_campaign(spec, engine_registry()).jobs if j.kind == "image"]
    assert jobs
    for job in jobs:
        rendered = ImageCompositor().render_pixels(job.request)
        assert rendered.layout is not None
        pixels = np.asarray(rendered.pixels.convert("RGB"))
        for text in rendered.layout.texts:
            assert text_contrast(pixels, text) == _reference_text_contrast(pixels, text)


def test_measure_reads_the_same_from_the_image_or_its_array(
    ads: list[tuple[Image.Image, NDArray[np.uint8] | None, LayoutFacts]],
) -> None:
    for img, array, layout in ads[:6]:
        palette = ("#0b3d91", "#1e88e5", "#ffb300", "#fafafa")
        assert measure(img, layout, palette, array) == measure(img, layout, palette)


def _facts(size: int, ink: tuple[int, int, int, int], colour: str) -> TextFacts:
    return TextFacts(field="t", text="x", ink=ink, region=ink, size=size, bold=False, colour=colour)


@pytest.mark.parametrize(
    "text",
    [
        _facts(20, (10, 10, 50, 30), "#ffffff"),  # glyphs fill the box: the ring around it is read
        _facts(20, (0, 0, 64, 64), "#000000"),  # the whole canvas, no ring outside it
        _facts(60, (-5, 40, 70, 90), "#808080"),  # leaves the canvas, strided
        _facts(20, (30, 30, 31, 31), "#123456"),  # one pixel
        _facts(20, (70, 70, 90, 90), "#123456"),  # off the canvas
    ],
)
def test_text_contrast_edge_cases_are_the_reference(text: TextFacts) -> None:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    pixels[10:30, 10:50] = 255  # white as the first box's text, all over its box
    assert text_contrast(pixels, text) == _reference_text_contrast(pixels, text)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (17, 33), (60, 230)])
def test_dilate3_is_pil_max_filter(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for density in (0.02, 0.2, 0.7):
        mask = rng.random(shape) < density
        pil = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0
        assert np.array_equal(dilate3(mask), pil)


def test_percentiles_are_numpys_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    for n in (*range(1, 40), 97, 1000, 14_011):
        ints = rng.integers(0, 256, n).astype(np.uint8)
        floats = rng.random(n) * 20 + 1
        counted = np.cumsum(np.bincount(ints, minlength=256))

        def kth(k: int, counted: NDArray[np.intp] = counted) -> int:
            return int(np.searchsorted(counted, k, side="right"))

        for q in (0, 5, 50, 95, 100, 33.3):
            expected_int = float(np.percentile(ints.astype(np.int16), q))
            got_int = percentile(n, q, kth)
            assert got_int == expected_int, (n, q)
            assert percentile_of(floats, q) == float(np.percentile(floats, q)), (n, q)
            padded = np.concatenate([floats, np.full(5, np.inf)])  # the rest sorts after: ignored
            assert percentile_of(padded, q, count=n) == float(np.percentile(floats, q)), (n, q)


def test_text_filling_the_whole_canvas_reads_no_background() -> None:
    """No pixel off the glyphs, none around them: contrast 1 (the reference's empty ring)."""
    pixels = np.full((32, 48, 3), 200, dtype=np.uint8)
    text = _facts(20, (0, 0, 48, 32), "#c8c8c8")
    assert text_contrast(pixels, text) == _reference_text_contrast(pixels, text) == (1.0, 1.0)
