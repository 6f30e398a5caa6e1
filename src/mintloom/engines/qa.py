"""Brand QA measurements, taken on the rendered pixels of an image asset.

An image engine that lays text out hands over :class:`LayoutFacts` (where each text block's ink
is, its size, weight and colour; the logo, the button; any model layer's box). :func:`measure`
then reads the *pixels* under those boxes — not the engine's own claims about them — and
records what the QA rules are judged on: WCAG 2.2 contrast of every text block against the
background pixels behind its glyphs, text leaving the canvas or its box, the logo's size and
clear space, the dominant colours' CIEDE2000 distance to the brand palette, copy lengths and how
much of the copy area a model layer covers. Measuring is rule-free (it runs in the worker);
the campaign's rules turn the numbers into a verdict (:mod:`mintloom.campaign.qa`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel

from mintloom.engines.colour import ciede2000, srgb_to_lab

Rect = tuple[int, int, int, int]
"""x0, y0, x1, y1 in pixels, half-open."""

GLYPH_TOLERANCE = 48
"""Max channel distance from the text colour for a pixel to count as glyph ink."""
BACKGROUND_PERCENTILE = 5
"""Contrast is the 5th percentile over the background pixels behind a block: its worst patch."""
SAMPLE_SIDE = 96
"""Dominant colours are taken from the image boxed down to at most this side (cheap, exact enough)."""


class TextFacts(BaseModel, frozen=True):
    """One laid-out text block, as the engine drew it."""

    field: str
    text: str
    ink: Rect
    region: Rect
    size: int
    bold: bool
    colour: str  # '#rrggbb'


class LayoutFacts(BaseModel, frozen=True):
    """Where an engine put things on the canvas (the QA gate measures the pixels there)."""

    width: int
    height: int
    texts: tuple[TextFacts, ...]
    logo: Rect | None = None
    button: Rect | None = None
    model_layers: tuple[Rect, ...] = ()
    """Boxes a model-generated layer paints opaquely *over* (not under) the design: the hook the
    ``model_layer`` rule checks against the copy area. A background layer is not listed here."""


class TextMeasure(BaseModel, frozen=True):
    field: str
    chars: int
    size: int
    large: bool
    """WCAG large text: at least 24 px, or 18.66 px bold (18 pt / 14 pt)."""
    contrast: float
    """Text colour against the background pixels behind the glyphs (5th percentile)."""
    ink_share: float
    """Share of the block's box in the text colour: 0 means the text is not visible there."""
    clipped_px: int
    """How far the ink leaves the canvas."""
    overflow_px: int
    """How far the ink leaves the box it was fitted into."""


class LogoMeasure(BaseModel, frozen=True):
    width: int
    height: int
    clear_px: int
    """Distance from the logo to the nearest text, button or canvas edge."""


class ColourMeasure(BaseModel, frozen=True):
    hex: str
    share: float
    nearest: str
    """The palette colour nearest in CIEDE2000."""
    delta_e: float


class QAMeasurements(BaseModel, frozen=True):
    width: int
    height: int
    texts: tuple[TextMeasure, ...]
    logo: LogoMeasure | None
    colours: tuple[ColourMeasure, ...]
    model_cover: float
    """Largest share of the copy area a model layer paints over."""


def is_large_text(size: int, bold: bool) -> bool:
    return size >= 24 or (bold and size >= 19)


def wcag_aa(size: int, bold: bool) -> float:
    """The contrast WCAG 2.2 AA asks of text this size (1.4.3): 3:1 large, 4.5:1 the rest."""
    return 3.0 if is_large_text(size, bold) else 4.5


@functools.cache
def srgb_linear_lut() -> NDArray[np.float64]:
    """Linear light of each 8-bit sRGB value (the sRGB transfer function, as a table: the same
    float64 operations on the same 256 values, read by index instead of per pixel)."""
    v = np.arange(256, dtype=np.float64) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


@functools.cache
def _weighted_luts() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The linear-light table times each channel's luminance weight (the same products as
    weighting each looked-up value)."""
    lut = srgb_linear_lut()
    return 0.2126 * lut, 0.7152 * lut, 0.0722 * lut


def _luminance(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    red, green, blue = _weighted_luts()
    result: NDArray[np.float64] = np.take(red, rgb[..., 0]) + np.take(green, rgb[..., 1])
    result += np.take(blue, rgb[..., 2])
    return result


def _clip(rect: Rect, width: int, height: int) -> Rect:
    return (max(0, rect[0]), max(0, rect[1]), min(width, rect[2]), min(height, rect[3]))


def _hex_rgb(value: str) -> NDArray[np.int16]:
    return np.array([int(value[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def text_contrast(pixels: NDArray[np.uint8], text: TextFacts) -> tuple[float, float]:
    """(contrast, ink share) of one block: glyph pixels are those near the text colour; the
    background is every other pixel of the ink box not next to a glyph (anti-aliased edges mix
    the two), or a ring just outside the box when the glyphs fill it. Large glyphs are sampled
    on a stride that stays below half a stroke."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = _clip(text.ink, w, h)
    if x0 >= x1 or y0 >= y1:
        return 1.0, 0.0
    step = max(1, text.size // 24)
    crop = pixels[y0:y1:step, x0:x1:step]
    colour = _hex_rgb(text.colour)
    dist = _channel_distance(crop, colour)
    cumulative = np.cumsum(np.bincount(dist.ravel(), minlength=256))
    # small text never reaches its full colour (anti-aliasing): a pixel nearer the text colour
    # than half way to the box's typical background counts as ink, so its fringe is not "background"
    limit = max(GLYPH_TOLERANCE, 0.5 * percentile(dist.size, 95, lambda k: _kth_counted(cumulative, k)))
    near = dilate3(dist <= limit)
    background = dist.size - int(np.count_nonzero(near))
    text_lum = float(_luminance(colour.astype(np.uint8)))
    if background < 16:  # the glyphs (or a colour like them) fill the box: look around it
        ratios = _ratios(_luminance(_ring(pixels, (x0, y0, x1, y1), _ring_pad(text))), text_lum)
        contrast = percentile_of(ratios, BACKGROUND_PERCENTILE) if ratios.size else 1.0
    else:
        ratios = _ratios(_luminance(crop), text_lum)
        ratios[near] = np.inf  # glyphs and their fringe sort after every background pixel
        contrast = percentile_of(ratios.ravel(), BACKGROUND_PERCENTILE, count=background)
    ink = int(cumulative[min(255, int(limit))])  # the glyph pixels: those at most ``limit`` away
    return round(contrast, 3), round(ink / dist.size, 4)


def _ring_pad(text: TextFacts) -> int:
    """How far around its ink :func:`text_contrast` looks when the glyphs fill their box."""
    return max(2, text.size // 8)


def text_contrast_in(image: Image.Image, text: TextFacts) -> tuple[float, float]:
    """:func:`text_contrast` of one block of ``image``, read from a crop of its ink and ring (the
    same numbers: the measure looks no further), not from an array of the whole canvas."""
    pad = _ring_pad(text)
    x0, y0 = max(0, text.ink[0] - pad), max(0, text.ink[1] - pad)
    x1, y1 = min(image.width, text.ink[2] + pad), min(image.height, text.ink[3] + pad)
    pixels = np.asarray(as_rgb(image.crop((x0, y0, x1, y1))))
    ink = (text.ink[0] - x0, text.ink[1] - y0, text.ink[2] - x0, text.ink[3] - y0)
    return text_contrast(pixels, text.model_copy(update={"ink": ink}))


def _ratios(lum: NDArray[np.float64], text_lum: float) -> NDArray[np.float64]:
    """WCAG contrast of each luminance against the text's."""
    ratios: NDArray[np.float64] = (np.maximum(lum, text_lum) + 0.05) / (np.minimum(lum, text_lum) + 0.05)
    return ratios


def _channel_distance(crop: NDArray[np.uint8], colour: NDArray[np.int16]) -> NDArray[np.uint8]:
    """The largest channel distance of each pixel from ``colour``, read from a 256-entry table
    per channel (three small gathers instead of widening the crop to int16)."""
    table = np.abs(np.arange(256, dtype=np.int16)[None, :] - colour[:, None]).astype(np.uint8)
    dist: NDArray[np.uint8] = np.maximum(np.take(table[0], crop[..., 0]), np.take(table[1], crop[..., 1]))
    np.maximum(dist, np.take(table[2], crop[..., 2]), out=dist)
    return dist


def dilate3(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``mask`` grown by one pixel in all eight directions: a 3x3 maximum filter whose window is
    cut at the edges (what PIL's ``MaxFilter(3)`` gives, as it repeats the edge pixels)."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    out = rows.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def percentile(n: int, q: float, kth: Callable[[int], float]) -> float:
    """The ``q``-th percentile of ``n`` values whose ``k``-th smallest is ``kth(k)``: numpy's
    default (linear) method, with the same floating-point operations, so the same float as
    ``np.percentile`` while reading only the two order statistics it interpolates between."""
    virtual = (n - 1) * (q / 100)
    k = math.floor(virtual)
    if k >= n - 1:
        return float(kth(n - 1))
    a, b = kth(k), kth(k + 1)
    gamma = virtual - k
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)


def percentile_of(values: NDArray[np.float64], q: float, count: int | None = None) -> float:
    """``np.percentile`` of the ``count`` smallest of a 1-D array without NaNs (all of it by
    default; the rest must be larger than those, e.g. infinite), from one partition."""
    n = values.size if count is None else count
    k = min(math.floor((n - 1) * (q / 100)), n - 1)
    part = np.partition(values, (k, min(k + 1, n - 1)))
    return percentile(n, q, lambda i: float(part[i]))


def _kth_counted(cumulative: NDArray[np.intp], k: int) -> int:
    """The ``k``-th smallest (from 0) of values 0..255 whose running counts are ``cumulative``."""
    return int(np.searchsorted(cumulative, k, side="right"))


def _ring(pixels: NDArray[np.uint8], rect: Rect, pad: int) -> NDArray[np.uint8]:
    """The pixels of a ``pad``-wide frame around ``rect`` (inside the canvas), as (n, 3)."""
    h, w = pixels.shape[:2]
    ox0, oy0, ox1, oy1 = _clip((rect[0] - pad, rect[1] - pad, rect[2] + pad, rect[3] + pad), w, h)
    outer = pixels[oy0:oy1, ox0:ox1]
    mask = np.ones(outer.shape[:2], dtype=bool)
    mask[rect[1] - oy0 : rect[3] - oy0, rect[0] - ox0 : rect[2] - ox0] = False
    return outer[mask]


def _outside(inner: Rect, outer: Rect) -> int:
    """How many pixels ``inner`` reaches beyond ``outer`` (0 when it is inside)."""
    return max(0, outer[0] - inner[0], outer[1] - inner[1], inner[2] - outer[2], inner[3] - outer[3])


def _gap(a: Rect, b: Rect) -> int:
    """Distance between two boxes (0 when they touch or overlap)."""
    dx = max(0, b[0] - a[2], a[0] - b[2])
    dy = max(0, b[1] - a[3], a[1] - b[3])
    return int(max(dx, dy)) if min(dx, dy) == 0 else int((dx * dx + dy * dy) ** 0.5)


def _logo(facts: LayoutFacts) -> LogoMeasure | None:
    if facts.logo is None:
        return None
    x0, y0, x1, y1 = facts.logo
    edges = min(x0, y0, facts.width - x1, facts.height - y1)
    others = [t.ink for t in facts.texts] + ([facts.button] if facts.button else [])
    clear = min([edges, *(_gap(facts.logo, o) for o in others)])
    return LogoMeasure(width=x1 - x0, height=y1 - y0, clear_px=max(0, clear))


def as_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: itself when it is (``convert`` would copy a million pixels to read them)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def dominant_colours(image: Image.Image, count: int = 5) -> list[tuple[tuple[int, int, int], float]]:
    """The ``count`` most common colours (median cut of a boxed-down copy) with their shares."""
    scale = SAMPLE_SIDE / max(image.width, image.height)
    small = as_rgb(image)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = small.resize(size, Image.Resampling.BOX)
    quant = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quant.getpalette() or []
    total = small.width * small.height
    out = []
    for n, idx in sorted(quant.getcolors() or [], key=lambda c: (-c[0], str(c[1]))):
        i = int(idx) * 3  # type: ignore[call-overload]
        out.append(((palette[i], palette[i + 1], palette[i + 2]), n / total))
    return out


def palette_distances(image: Image.Image, palette: tuple[str, ...]) -> tuple[ColourMeasure, ...]:
    """Each dominant colour with its CIEDE2000 distance to the nearest brand palette colour."""
    doms = dominant_colours(image)
    if not doms:
        return ()
    pal = np.array([_hex_rgb(p) for p in palette])
    d = ciede2000(srgb_to_lab(np.array([c for c, _ in doms]))[:, None, :], srgb_to_lab(pal)[None, :, :])
    nearest = d.argmin(axis=1)
    return tuple(
        ColourMeasure(
            hex="#{:02x}{:02x}{:02x}".format(*rgb),
            share=round(share, 4),
            nearest=palette[int(j)],
            delta_e=round(float(d[i, j]), 3),
        )
        for i, ((rgb, share), j) in enumerate(zip(doms, nearest, strict=True))
    )


def _area(r: Rect) -> int:
    return max(0, r[2] - r[0]) * max(0, r[3] - r[1])


def _overlap(a: Rect, b: Rect) -> int:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def model_cover(facts: LayoutFacts) -> float:
    """The largest share of any text block's ink box that a model layer paints over."""
    worst = 0.0
    for layer in facts.model_layers:
        for t in facts.texts:
            if _area(t.ink):
                worst = max(worst, _overlap(layer, t.ink) / _area(t.ink))
    return round(worst, 4)


def measure(
    image: Image.Image,
    facts: LayoutFacts,
    palette: tuple[str, ...],
    array: NDArray[np.uint8] | None = None,
) -> QAMeasurements:
    """Everything the QA rules judge, read from ``image`` (the pixels that were encoded), or from
    ``array``, the same RGB pixels as an array, when the engine already has one."""
    pixels = array if array is not None else np.asarray(as_rgb(image))
    canvas: Rect = (0, 0, facts.width, facts.height)
    texts = []
    for t in facts.texts:
        contrast, share = text_contrast(pixels, t)
        texts.append(
            TextMeasure(
                field=t.field,
                chars=len(t.text),
                size=t.size,
                large=is_large_text(t.size, t.bold),
                contrast=contrast,
                ink_share=share,
                clipped_px=_outside(t.ink, canvas),
                overflow_px=_outside(t.ink, t.region),
            )
        )
    return QAMeasurements(
        width=facts.width,
        height=facts.height,
        texts=tuple(texts),
        logo=_logo(facts),
        colours=palette_distances(image, palette),
        model_cover=model_cover(facts),
    )
