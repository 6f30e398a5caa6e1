"""ImageCompositor: brand-styled display ads, laid out per format.

A design is a *recipe* drawn from the seed and the brand palette alone (colour roles, gradient
angle, a smooth noise field, decorative shapes in normalised coordinates). Rendering a recipe at
a format lays the text out afresh for that aspect ratio, so generating one request at another
format gives a reflow of the same design, never a stretched copy.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageColor, ImageDraw

from mintloom.engines.base import (
    Artifact,
    Encoding,
    Format,
    GenerationRequest,
    Rendered,
    expect_params,
    format_preset,
)
from mintloom.engines.copy import CopyEngine
from mintloom.engines.fonts import Script, is_rtl_locale, language_of, script_for
from mintloom.engines.hero import cover, hero_layer
from mintloom.engines.layout import Block, Box, FieldSpec, TextStyle, fit_line, fit_stack, line_geometry
from mintloom.engines.params import CopyTemplate, ImageParams, ParamValue
from mintloom.engines.qa import (
    LayoutFacts,
    TextFacts,
    as_rgb,
    srgb_linear_lut,
    text_contrast_in,
    wcag_aa,
)
from mintloom.engines.sandbox import MAX_OUTPUT
from mintloom.errors import EngineError
from mintloom.provenance.credentials import GenerationParameters

# line spacing (em) for headlines per script; body text gets 0.15 em more
_SPACING: dict[Script, float] = {
    "latin": 1.12,
    "arabic": 1.5,
    "hebrew": 1.15,
    "ja": 1.3,
    "zh": 1.3,
    "ko": 1.3,
}

LayoutClass = Literal["square", "portrait", "landscape", "skyscraper", "leaderboard"]

DEFAULT_FORMAT = format_preset("square")
# PNG: every row filtered "Up" (the previous row subtracted: ads are smooth vertically), then
# zlib level 2 (deflate's fast strategy). ~3x faster than Pillow's per-row adaptive filter at
# level 6, ~45% more bytes (about the size of the peer's resvg PNGs); pixels are unchanged.
PNG_COMPRESS_LEVEL = 2
JPEG_QUALITY = 90
WEBP_QUALITY = 85
WEBP_METHOD = 0  # libwebp's fastest effort: method 4 takes ~3x longer for ~20% fewer bytes
MEDIA_TYPES: dict[Encoding, tuple[str, str]] = {
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
}
RECIPE_VERSION = 1

Colour = tuple[int, int, int]


def hex_to_rgb(value: str) -> Colour:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def rgb_to_hex(rgb: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def relative_luminance(rgb: Colour) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: float, b: float) -> float:
    """WCAG contrast ratio between two relative luminances."""
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


@functools.cache
def _css_colours() -> tuple[tuple[str, Colour], ...]:
    out: list[tuple[str, Colour]] = []
    for name in sorted(ImageColor.colormap):
        rgb = ImageColor.getrgb(name)
        out.append((name, (rgb[0], rgb[1], rgb[2])))
    return tuple(out)


@functools.cache
def _css_table() -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """The CSS colours' names (sorted) and their RGB values as a (n, 3) array."""
    colours = _css_colours()
    return tuple(n for n, _ in colours), np.array([c for _, c in colours], dtype=np.float64)


def nearest_css_name(rgb: Colour) -> str:
    """The nearest CSS named colour (redmean-weighted RGB distance; a tie goes to the first name).

    Computed against every colour at once: each distance is exact in floating point (halves and
    256ths of small integers), so it is the same as one colour at a time, ~20x faster."""
    names, table = _css_table()
    r, g, b = table[:, 0], table[:, 1], table[:, 2]
    rmean = (rgb[0] + r) / 2
    dr, dg, db = rgb[0] - r, rgb[1] - g, rgb[2] - b
    dist = (2 + rmean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rmean) / 256) * db * db
    return names[int(dist.argmin())]


def dominant_colours(img: Image.Image, count: int = 4) -> list[dict[str, object]]:
    """The most common colours of ``img`` as ``[{name, hex, share}]``, most common first."""
    small = as_rgb(img).resize((64, 64), Image.Resampling.BOX)
    quant = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quant.getpalette() or []
    counts = sorted(quant.getcolors() or [], key=lambda c: (-c[0], c[1]))
    total = 64 * 64
    out: list[dict[str, object]] = []
    for n, idx in counts:
        i = int(idx) * 3  # type: ignore[call-overload]
        rgb = (palette[i], palette[i + 1], palette[i + 2])
        out.append({"name": nearest_css_name(rgb), "hex": rgb_to_hex(rgb), "share": round(n / total, 3)})
    return out


# --- the recipe -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    kind: Literal["disc", "ring"]
    cx: float  # normalised to the canvas
    cy: float
    r: float  # normalised to sqrt(width * height)
    colour: Colour
    alpha: float


@dataclass(frozen=True)
class Recipe:
    """Everything about a design that does not depend on the format."""

    base: Colour
    second: Colour
    accent: Colour
    angle: float
    noise: NDArray[np.float32] = field(compare=False)
    noise_amp: float
    shapes: tuple[Shape, ...]

    @classmethod
    def from_seed(cls, seed: int, palette: tuple[str, ...]) -> Recipe:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, RECIPE_VERSION])
        colours = [hex_to_rgb(c) for c in palette]
        order = [int(i) for i in rng.permutation(len(colours))]
        base, second = colours[order[0]], colours[order[1]]
        # the accent is the palette colour most unlike the base (a CTA must stand out)
        accent = max((colours[i] for i in order[2:]) if len(colours) > 2 else [second], key=_unlike(base))
        # the draws below are in a fixed order: reordering them changes every image
        noise = rng.random((5, 5), dtype=np.float32)
        shapes = _shapes(rng, second, [c for c in colours if c != base] or [second])
        return cls(
            base=base,
            second=second,
            accent=accent,
            angle=float(rng.uniform(0, 2 * math.pi)),
            noise=noise,
            noise_amp=float(rng.uniform(0.25, 0.5)),
            shapes=shapes,
        )

    def summary(self) -> dict[str, ParamValue]:
        return {
            "base": rgb_to_hex(self.base),
            "second": rgb_to_hex(self.second),
            "accent": rgb_to_hex(self.accent),
            "angle": round(self.angle, 6),
            "shapes": len(self.shapes),
        }


def _unlike(base: Colour) -> Callable[[Colour], float]:
    """How unlike ``base`` a colour is: its contrast ratio plus its channel distance."""

    def key(c: Colour) -> float:
        return (
            contrast_ratio(relative_luminance(c), relative_luminance(base))
            + sum(abs(a - b) for a, b in zip(c, base, strict=True)) / 255
        )

    return key


def _shapes(rng: np.random.Generator, second: Colour, others: list[Colour]) -> tuple[Shape, ...]:
    """A hero disc of the second colour, then 2–4 discs or rings of the other colours."""
    shapes: list[Shape] = []
    # one hero disc of the second colour, mostly off-canvas at the end side (away from text)
    shapes.append(
        Shape(
            "disc",
            float(rng.uniform(0.92, 1.12)),
            float(rng.choice([rng.uniform(-0.15, 0.08), rng.uniform(0.92, 1.15)])),
            float(rng.uniform(0.26, 0.38)),
            second,
            float(rng.uniform(0.85, 1.0)),
        )
    )
    for _ in range(int(rng.integers(2, 5))):
        kind: Literal["disc", "ring"] = "ring" if rng.random() < 0.5 else "disc"
        colour = others[int(rng.integers(0, len(others)))]
        # keep shapes toward the edges so the text areas stay calm
        cx = float(rng.choice([rng.uniform(-0.12, 0.1), rng.uniform(0.8, 1.12)]))
        cy = float(rng.uniform(-0.1, 1.1))
        r = float(rng.uniform(0.06, 0.2))
        shapes.append(Shape(kind, cx, cy, r, colour, float(rng.uniform(0.2, 0.45))))
    return tuple(shapes)


_TILE_PIXELS = 1 << 16
"""Pixels per band of rows the background is computed in: its float planes (a few hundred KB)
stay in the core's cache, where whole-canvas planes (14 MB at 1080x1080) stream through memory
on every operation; two workers on two cores then do not compete for memory bandwidth."""


def render_background(
    recipe: Recipe, width: int, height: int, mirror: bool = False, mode: Literal["RGB", "RGBA"] = "RGB"
) -> Image.Image:
    """Gradient in the base colour warped by a smooth noise field, plus anti-aliased shapes.

    ``mirror`` flips the shapes left to right (right-to-left layouts put their text on the right).
    The channels are computed as separate planes (contiguous arrays are several times faster than
    an interleaved last axis of 3), band by band of rows, with the same float32 operations per
    pixel as on the whole canvas (so the same pixels).
    """
    out = np.empty((height, width, len(mode)), dtype=np.uint8)
    if mode == "RGBA":
        out[..., 3] = 255
    gradient = _Gradient.of(recipe, width, height)
    scale = math.sqrt(width * height)
    circles = [
        _Circle(shape, (1 - shape.cx if mirror else shape.cx) * width, shape.cy * height, shape.r * scale)
        for shape in recipe.shapes
    ]
    rows = max(1, _TILE_PIXELS // width)
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        planes = gradient.planes(y0, y1)
        for circle in circles:
            _paint(planes, y0, circle)
        # every pixel is a convex mix of colours in [0, 255], so rounding needs no clip
        planes += 0.5
        for c in range(3):
            out[y0:y1, :, c] = planes[c]  # float32 -> uint8 truncates, as astype does
    return Image.fromarray(out, mode=mode)


@dataclass(frozen=True)
class _Gradient:
    """The background before shapes: a noise-warped gradient between the base colour and a shade
    of it, computed for a band of rows at a time."""

    xs: NDArray[np.float32]
    ys: NDArray[np.float32]
    noise: Image.Image
    """The recipe's noise, resized to the canvas (mode F), read a band at a time."""
    recipe: Recipe
    base: NDArray[np.float32]
    delta: NDArray[np.float32]

    @classmethod
    def of(cls, recipe: Recipe, width: int, height: int) -> _Gradient:
        xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
        ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        noise_img = Image.fromarray(recipe.noise, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        # a calm field: the base colour and a lighter (or, for light bases, darker) shade of it, so
        # text placed anywhere on it has one background tone to contrast with
        a = np.array(recipe.base, dtype=np.float32)
        b = a * 0.8 if relative_luminance(recipe.base) > 0.35 else a + (255 - a) * 0.2
        return cls(xs, ys, noise_img, recipe, a, b - a)

    def planes(self, y0: int, y1: int) -> NDArray[np.float32]:
        """Rows ``y0`` to ``y1`` of the field as (3, rows, width) float32 planes."""
        recipe = self.recipe
        t = (self.xs - 0.5) * math.cos(recipe.angle) + (self.ys[y0:y1] - 0.5) * math.sin(recipe.angle) + 0.5
        band = self.noise.crop((0, y0, self.noise.width, y1))
        noise = np.array(band, dtype=np.float32)
        noise -= 0.5
        noise *= recipe.noise_amp
        t += noise  # t = clip(t + amp * (noise - 0.5), 0, 1), in place
        np.clip(t, 0.0, 1.0, out=t)
        ramp = 2 * t
        np.subtract(3, ramp, out=ramp)
        t *= t
        t *= ramp  # smoothstep t * t * (3 - 2 * t), stays in [0, 1]
        planes: NDArray[np.float32] = np.empty((3, *t.shape), dtype=np.float32)
        for c, (ac, dc) in enumerate(zip(self.base, self.delta, strict=True)):
            np.multiply(t, dc, out=planes[c])
            planes[c] += ac  # a + t * (b - a)
        return planes


class _Circle(NamedTuple):
    """A shape placed on the canvas: centre (cx, cy) and radius r in pixels."""

    shape: Shape
    cx: float
    cy: float
    r: float


def _paint(planes: NDArray[np.float32], top: int, circle: _Circle) -> None:
    """Blend one anti-aliased disc or ring into ``planes``, which hold the canvas's rows from
    ``top`` on."""
    shape, cx, cy, r = circle
    height, width = planes.shape[1:]
    x0, x1 = max(0, int(cx - r - 2)), min(width, int(cx + r + 3))
    y0, y1 = max(top, int(cy - r - 2)), min(top + height, int(cy + r + 3))
    if x0 >= x1 or y0 >= y1:
        return
    gx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    gy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    d = np.sqrt(gx * gx + gy * gy)
    if shape.kind == "disc":
        cover = np.clip(r - d + 0.5, 0.0, 1.0)
    else:
        ring_w = max(2.0, r * 0.08)
        cover = np.clip(ring_w / 2 - np.abs(d - r) + 0.5, 0.0, 1.0)
    alpha = cover * shape.alpha
    keep = 1 - alpha
    for c, value in enumerate(np.array(shape.colour, dtype=np.float32)):
        region = planes[c, y0 - top : y1 - top, x0:x1]
        region *= keep
        region += value * alpha  # region * (1 - alpha) + colour * alpha


# --- layout templates -------------------------------------------------------------------------


def layout_class(width: int, height: int) -> LayoutClass:
    aspect = width / height
    if aspect >= 3.0:
        return "leaderboard"
    if aspect <= 0.4:
        return "skyscraper"
    if aspect < 0.8:
        return "portrait"
    if aspect <= 1.3:
        return "square"
    return "landscape"


@dataclass(frozen=True)
class Template:
    kind: LayoutClass
    logo: Box
    text: Box  # headline + body stack
    cta: Box  # room for the button
    centered: bool
    margin: int
    rtl: bool


def _mirror(box: Box, width: int) -> Box:
    return Box(width - box.x1, box.y0, width - box.x0, box.y1)


def template_for(width: int, height: int, rtl: bool) -> Template:
    kind = layout_class(width, height)
    short = min(width, height)
    W, H = width, height
    if kind == "leaderboard":
        m = max(6, round(0.1 * H))
        logo_w = min(round(1.6 * (H - 2 * m)), round(0.16 * W))
        cta_w = round(0.22 * W)
        logo = Box(m, m, m + logo_w, H - m)
        cta = Box(W - m - cta_w, m, W - m, H - m)
        text = Box(logo.x1 + m, m, cta.x0 - m, H - m)
        centered = False
    elif kind == "skyscraper":
        m = max(8, round(0.08 * W))
        logo = Box(m, m, W - m, m + round(0.1 * H))
        text = Box(m, round(0.2 * H), W - m, round(0.79 * H))
        cta = Box(m, round(0.83 * H), W - m, H - m)
        centered = True
    elif kind == "portrait":
        m = round(0.07 * short)
        logo = Box(m, m, W - m, m + round(0.08 * H))
        text = Box(m, round(0.26 * H), W - m, round(0.74 * H))
        cta = Box(m, round(0.8 * H), W - m, round(0.9 * H))
        centered = True
    elif kind == "square":
        m = round(0.07 * short)
        logo = Box(m, m, m + round(0.3 * W), m + round(0.12 * H))
        text = Box(m, round(0.25 * H), W - m, round(0.75 * H))
        cta = Box(m, round(0.8 * H), W - m, H - m)
        centered = False
    else:  # landscape
        m = round(0.07 * short)
        logo = Box(m, m, m + round(0.22 * W), m + round(0.13 * H))
        text = Box(m, round(0.27 * H), round(0.62 * W), round(0.74 * H))
        cta = Box(m, round(0.79 * H), round(0.62 * W), H - m)
        centered = False
    if rtl and not centered:
        logo, text, cta = _mirror(logo, W), _mirror(text, W), _mirror(cta, W)
    return Template(kind, logo, text, cta, centered, m, rtl)


# --- the compositor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedText:
    field: str
    region: Box  # the box the text was fitted into
    ink: Box  # the pixels actually drawn
    size: int
    lines: tuple[str, ...]
    colour: str


@dataclass(frozen=True)
class Composition:
    image: Image.Image
    template: Template
    recipe: Recipe
    texts: tuple[PlacedText, ...]
    logo: Box | None
    button: Box | None
    messages: dict[str, str]
    """The rendered headline, body and CTA."""
    layer: Artifact | None = None
    """The text-to-image hero under the copy, when the brand has one."""


def _candidates(recipe: Recipe, palette: tuple[str, ...]) -> list[Colour]:
    seen: list[Colour] = []
    for c in [*(hex_to_rgb(p) for p in palette), (255, 255, 255), (17, 17, 17)]:
        if c not in seen:
            seen.append(c)
    return seen


def _region_luminances(img: Image.Image, box: Box) -> tuple[float, float, float]:
    """5th percentile, mean and 95th percentile relative luminance of ``img`` inside ``box``."""
    crop = img.crop((box.x0, box.y0, box.x1, box.y1)).convert("RGB")
    if crop.width * crop.height > 4096:
        f = math.sqrt(crop.width * crop.height / 4096)
        crop = crop.resize(
            (max(1, round(crop.width / f)), max(1, round(crop.height / f))), Image.Resampling.BOX
        )
    lin = srgb_linear_lut()[np.asarray(crop)]  # the sRGB curve of each channel value, looked up
    lum = lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
    low, high = np.percentile(lum, [5, 95])
    return float(low), float(lum.mean()), float(high)


def pick_text_colour(bg: tuple[float, float, float], candidates: list[Colour]) -> tuple[Colour, float]:
    """The candidate with the best worst-case contrast against the area behind the text.

    Brand colours win when they reach WCAG AA (4.5:1); otherwise white or near-black.
    """
    scored = [(min(contrast_ratio(relative_luminance(c), lum) for lum in bg), c) for c in candidates]
    brand = [sc for sc in scored[:-2] if sc[0] >= 4.5]
    best = max(brand) if brand else max(scored)
    return best[1], best[0]


class _Scrim(NamedTuple):
    """How the stack is backed: a panel only when the estimate finds no colour that reads
    (``always`` off), or always; its opacity over dark and over light text."""

    always: bool
    dark_alpha: int
    light_alpha: int


SCRIMS = (_Scrim(False, 150, 170), _Scrim(True, 150, 170), _Scrim(True, 215, 230))
"""The tries of :meth:`ImageCompositor.compose`: the design as drawn, then over a scrim, then a
denser one (at that opacity the panel lifts or darkens any background enough for white or near-black
text picked on it to reach 4.5:1)."""


SHADES = (0.0, 0.3, 0.6)
"""The tries for the CTA's button: the accent as it is, then mixed this far toward black (under a
white label) or white (under a near-black one): a mid-tone accent reads with neither label."""


def _below_aa(comp: Composition) -> frozenset[str]:
    """The text blocks below WCAG AA (3:1 large, 4.5:1 other text) against the pixels behind their
    glyphs, measured as the brand-QA gate measures the finished ad (on a crop around each block:
    the gate looks no further than a ring around its ink)."""
    return frozenset(
        fact.field
        for fact in layout_facts(comp).texts
        if text_contrast_in(comp.image, fact)[0] < wcag_aa(fact.size, fact.bold)
    )


@dataclass
class _Canvas:
    """One composition in progress: the design, its layout template and the image drawn on."""

    img: Image.Image
    tpl: Template
    recipe: Recipe
    locale: str
    rtl: bool
    area: float
    where: str

    @classmethod
    def start(cls, request: GenerationRequest, fmt: Format, layer: Artifact | None = None) -> _Canvas:
        W, H = fmt.width, fmt.height
        if W < 64 or H < 48:
            raise EngineError(f"format {fmt.name} ({W}x{H}) is too small for an ad")
        rtl = is_rtl_locale(request.locale)
        recipe = Recipe.from_seed(request.seed, request.brand.palette)
        img = (
            render_background(recipe, W, H, mirror=rtl, mode="RGBA") if layer is None else cover(layer, W, H)
        )
        return cls(
            img,
            template_for(W, H, rtl),
            recipe,
            request.locale,
            rtl,
            math.sqrt(W * H),
            f"the {fmt.name} format ({W}x{H})",
        )

    def style(self, text: str, weight: Literal["regular", "bold"]) -> TextStyle:
        script = script_for(text, self.locale)
        rtl_text = self.rtl or script in ("arabic", "hebrew")
        return TextStyle(script, weight, "rtl" if rtl_text else "ltr", language_of(self.locale))


def render_messages(params: ImageParams, locale: str) -> dict[str, str]:
    """The ad's headline, body and CTA: the brand's message templates rendered (once, here) with
    the audience variables, stripped; empty ones left out."""
    copy = CopyEngine()
    texts = {}
    for field_name in ("headline", "body", "cta"):
        source = getattr(params, field_name)
        if not source.strip():
            continue
        if "{" not in source and len(source) <= MAX_OUTPUT:  # no Jinja markup: it renders as itself
            texts[field_name] = source.strip()
        else:
            template = CopyTemplate(source=source, variables=params.variables, name=field_name)
            texts[field_name] = copy.render_template(template, locale, what="brand message").strip()
    return {k: v for k, v in texts.items() if v}


def _button_box(tpl: Template, width: int, height: int) -> Box:
    """A button at most ``width`` x ``height`` in the CTA room: centred, or on the start side (a
    leaderboard's on its outer edge), centred vertically."""
    room = tpl.cta
    bw, bh = min(room.width, width), min(room.height, height)
    if tpl.centered:
        bx0 = room.x0 + (room.width - bw) // 2
    elif tpl.rtl != (tpl.kind == "leaderboard"):
        bx0 = room.x1 - bw
    else:
        bx0 = room.x0
    by0 = room.y0 + (room.height - bh) // 2
    return Box(bx0, by0, bx0 + bw, by0 + bh)


def _draw_button_shape(
    img: Image.Image, button: Box, kind: LayoutClass, accent: Colour
) -> ImageDraw.ImageDraw:
    """Shadow, then the rounded button in the accent colour; a fresh draw on ``img`` for its label."""
    bh = button.height
    radius = max(3, bh // 2 if kind in ("portrait", "skyscraper") else bh // 4)
    off = max(1, bh // 14)
    _composite_rounded(
        img, (button.x0, button.y0 + off, button.x1 - 1, button.y1 - 1 + off), radius, (0, 0, 0, 60)
    )
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((button.x0, button.y0, button.x1 - 1, button.y1 - 1), radius, fill=accent)
    return draw


def _button_colours(accent: Colour, shade: float) -> tuple[Colour, Colour]:
    """The button's fill and its label's colour: white or near-black, whichever reads better on
    the accent; the accent mixed ``shade`` of the way away from the label's colour."""
    acc = relative_luminance(accent)
    label = max([(255, 255, 255), (17, 17, 17)], key=lambda c: contrast_ratio(relative_luminance(c), acc))
    if shade <= 0:
        return accent, label
    toward = 0 if label == (255, 255, 255) else 255
    r, g, b = (round(c + (toward - c) * shade) for c in accent)
    return (r, g, b), label


def _composite_rounded(
    img: Image.Image, rect: tuple[int, int, int, int], radius: int, fill: tuple[int, int, int, int]
) -> None:
    """Blend a translucent rounded rectangle into ``img``: drawn on a layer just its size (a
    full-canvas layer composites a million untouched pixels), placed where it was drawn."""
    x0, y0 = max(0, rect[0]), max(0, rect[1])
    x1, y1 = min(img.width, rect[2] + 1), min(img.height, rect[3] + 1)
    if x0 >= x1 or y0 >= y1:
        return
    layer = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    shifted = (rect[0] - x0, rect[1] - y0, rect[2] - x0, rect[3] - y0)
    ImageDraw.Draw(layer).rounded_rectangle(shifted, radius, fill=fill)
    img.alpha_composite(layer, (x0, y0))


def _tags(comp: Composition, fmt: Format, locale: str) -> dict[str, object]:
    """What the catalog indexes an ad by: size, layout, dominant colours, texts and their boxes."""
    return {
        "engine": ImageCompositor.name,
        "dimensions": {"width": fmt.width, "height": fmt.height},
        "format": fmt.name,
        "layout": comp.template.kind,
        "colors": dominant_colours(comp.image),
        "locale": locale,
        "text": {p.field: comp.messages[p.field] for p in comp.texts},
        "boxes": {p.field: p.ink.as_list() for p in comp.texts},
        "recipe": comp.recipe.summary(),
    }


_BOLD_FIELDS = frozenset({"headline", "cta"})
"""The compositor sets headline and CTA bold, body regular."""


def layout_facts(comp: Composition) -> LayoutFacts:
    """Where ``comp`` drew its text (the CTA's box is its button), logo and button, for QA."""
    texts = tuple(
        TextFacts(
            field=p.field,
            text=comp.messages[p.field],
            ink=_box_rect(p.ink),
            region=_box_rect(comp.button if p.field == "cta" and comp.button else p.region),
            size=p.size,
            bold=p.field in _BOLD_FIELDS,
            colour=p.colour,
        )
        for p in comp.texts
    )
    return LayoutFacts(
        width=comp.image.width,
        height=comp.image.height,
        texts=texts,
        logo=_rect(comp.logo),
        button=_rect(comp.button),
    )


def _box_rect(box: Box) -> tuple[int, int, int, int]:
    return (box.x0, box.y0, box.x1, box.y1)


def _rect(box: Box | None) -> tuple[int, int, int, int] | None:
    return None if box is None else _box_rect(box)


def encode(image: Image.Image, encoding: Encoding) -> bytes:
    """``image`` as a PNG, JPEG or WebP file (no metadata: the credential is added when signing)."""
    if encoding == "png":
        if image.mode != "RGB":
            raise EngineError(f"the compositor encodes RGB images, not {image.mode}")
        return _png(np.asarray(image))
    buf = io.BytesIO()
    if encoding == "jpeg":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False)
    else:
        image.save(buf, format="WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return buf.getvalue()


@functools.lru_cache(maxsize=32)
def _scaled_logo(logo_png: bytes, width: int, height: int) -> Image.Image:
    """The logo fitted into ``width`` x ``height`` (cached: a campaign draws one logo into a few
    box sizes thousands of times; callers only read the image)."""
    try:
        with Image.open(io.BytesIO(logo_png)) as src:
            logo = src.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise EngineError("the brand logo is not a readable image") from exc
    scale = min(width / logo.width, height / logo.height)
    w, h = max(1, int(logo.width * scale)), max(1, int(logo.height * scale))
    return logo.resize((w, h), Image.Resampling.LANCZOS)


def _png(pixels: NDArray[np.uint8]) -> bytes:
    """An 8-bit RGB PNG of ``pixels`` (height, width, 3): one IDAT of Up-filtered rows (see
    PNG_COMPRESS_LEVEL)."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, width * 3)
    raw = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type Up
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # modulo 256, as PNG filters are
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(raw.tobytes(), PNG_COMPRESS_LEVEL)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class ImageCompositor:
    """Procedural background + logo + headline/body/CTA, laid out per format; PNG, JPEG or WebP out."""

    name = "compositor"
    # 1.1.0: PNG rows Up-filtered at zlib level 2 (was Pillow's adaptive filter, level 6): the
    # same pixels, other bytes. 1.2.0: a design whose text falls below WCAG AA where the QA gate
    # measures it is drawn again over a scrim (a mid-tone button shaded); others are unchanged
    version = "1.2.0"
    params_type = ImageParams

    def generate(self, request: GenerationRequest) -> Artifact:
        return self.render_pixels(request).artifact

    def render_pixels(self, request: GenerationRequest) -> Rendered:
        """The artifact plus the RGB pixels its PNG holds, timed (drawing, then encoding)."""
        params = expect_params(self, request, "image", ImageParams)
        t0, c0 = time.perf_counter(), time.thread_time()
        comp = self.compose(request)
        fmt = request.format or DEFAULT_FORMAT
        tags = _tags(comp, fmt, request.locale)
        t1, c1 = time.perf_counter(), time.thread_time()
        array = np.asarray(comp.image)  # one copy out of Pillow, for the PNG and the QA gate
        data = _png(array) if fmt.encoding == "png" else encode(comp.image, fmt.encoding)
        media_type, extension = MEDIA_TYPES[fmt.encoding]
        t2, c2 = time.perf_counter(), time.thread_time()
        parameters = GenerationParameters(
            campaign=params.campaign,
            format=fmt.name,
            width=fmt.width,
            height=fmt.height,
            layout=comp.template.kind,
            recipe_version=RECIPE_VERSION,
        )
        layer = comp.layer
        artifact = Artifact(
            data=data,
            media_type=media_type,
            extension=extension,
            engine=self.name,
            engine_version=self.version,
            seed=request.seed,
            parameters=parameters,
            model_id=layer.model_id if layer is not None else params.messages_model,
            model_hash=layer.model_hash if layer is not None else None,
            digital_source_type="compositeWithTrainedAlgorithmicMedia"
            if params.messages_model or layer is not None
            else "algorithmicMedia",
            tags=tags if layer is None else {**tags, "model": layer.model_id},
            prompt=layer.prompt if layer is not None else None,
            layers=(layer,) if layer is not None else (),
        )
        return Rendered(
            artifact,
            comp.image,
            t1 - t0,
            t2 - t1,
            layout=layout_facts(comp),
            generate_cpu_s=c1 - c0,
            encode_cpu_s=c2 - c1,
            array=array,
        )

    # -- composition ---------------------------------------------------------------------------

    def compose(self, request: GenerationRequest) -> Composition:
        """The ad for ``request``: background, text stack, button and logo, drawn in that order.

        The stack's colour is picked from an estimate of the background behind each block; the
        finished ad is then measured as the brand-QA gate measures it (:func:`text_contrast` of
        the drawn glyphs), and drawn again over a scrim, then a denser one, when a stack block does not
        reach WCAG AA there. A design drawn from the seed alone (a dynamic render's seed is new
        per request) must not leave it to luck whether the gate holds the ad."""
        params = expect_params(self, request, "image", ImageParams)
        texts = render_messages(params, request.locale)
        layer = hero_layer(request, params.hero) if params.hero is not None else None
        stack = button = 0
        comp = self._compose(request, texts, layer, SCRIMS[stack], SHADES[button])
        while failing := _below_aa(comp):
            retry = False
            if failing - {"cta"} and stack + 1 < len(SCRIMS):
                stack, retry = stack + 1, True
            if "cta" in failing and button + 1 < len(SHADES):
                button, retry = button + 1, True
            if not retry:  # the gate holds it; the densest panel and darkest button did not do
                break
            comp = self._compose(request, texts, layer, SCRIMS[stack], SHADES[button])
        return comp

    def _compose(
        self,
        request: GenerationRequest,
        texts: dict[str, str],
        layer: Artifact | None,
        scrim: _Scrim,
        shade: float,
    ) -> Composition:
        canvas = _Canvas.start(request, request.format or DEFAULT_FORMAT, layer)
        candidates = _candidates(canvas.recipe, request.brand.palette)
        placed = self._place_stack(canvas, texts, candidates, scrim)
        button = None
        if "cta" in texts:
            pt, button = self._draw_button(canvas, texts["cta"], shade)
            placed.append(pt)
        logo_box = self._place_logo(canvas.img, request.brand.logo_png, canvas.tpl, canvas.rtl)
        return Composition(
            canvas.img.convert("RGB"),
            canvas.tpl,
            canvas.recipe,
            tuple(placed),
            logo_box,
            button,
            texts,
            layer,
        )

    def _fit_stack(self, canvas: _Canvas, texts: dict[str, str]) -> list[Block]:
        """Headline and body at the largest sizes that stack inside the template's text box."""
        head_min = max(11, round(0.03 * canvas.area))
        body_min = max(9, round(0.018 * canvas.area))
        specs = []
        if "headline" in texts:
            st = canvas.style(texts["headline"], "bold")
            specs.append(FieldSpec("headline", texts["headline"], st, 1.0, head_min, _SPACING[st.script]))
        if "body" in texts:
            st = canvas.style(texts["body"], "regular")
            specs.append(FieldSpec("body", texts["body"], st, 0.45, body_min, _SPACING[st.script] + 0.15))
        max_base = max(head_min, round(0.11 * canvas.area))
        return fit_stack(specs, canvas.tpl.text, max_base=max_base, where=canvas.where)

    def _place_stack(
        self, canvas: _Canvas, texts: dict[str, str], candidates: list[Colour], scrim: _Scrim
    ) -> list[PlacedText]:
        """The headline/body stack, centred vertically in its box, each block in the colour that
        reads best on the background behind it (over a scrim when none does, or always when
        ``scrim.always``)."""
        blocks = self._fit_stack(canvas, texts)
        tpl, img = canvas.tpl, canvas.img
        gap = round(0.45 * blocks[-1].size) if len(blocks) > 1 else 0
        total = sum(b.height for b in blocks) + gap * max(0, len(blocks) - 1)
        y = tpl.text.y0 + (tpl.text.height - total) // 2
        positioned: list[tuple[Block, int, Box]] = []
        for block in blocks:
            positioned.append((block, y, self._text_area(block, tpl.text, y, tpl.centered)))
            y += block.height + gap
        colours = [pick_text_colour(_region_luminances(img, area), candidates) for _, _, area in positioned]
        # WCAG AA, as the brand QA gate measures it: 3:1 for large text, 4.5:1 for the rest
        needs = [wcag_aa(b.size, b.spec.style.weight == "bold") for b, _, _ in positioned]
        if scrim.always or any(score < need for (_, score), need in zip(colours, needs, strict=True)):
            # no colour reads on this patch of background: one panel behind the whole stack
            union = Box(
                min(p[2].x0 for p in positioned),
                positioned[0][2].y0,
                max(p[2].x1 for p in positioned),
                positioned[-1][2].y1,
            )
            self._scrim(img, union, colours[0][0], blocks[-1].size, scrim)
            colours = [pick_text_colour(_region_luminances(img, a), candidates) for _, _, a in positioned]
        draw = ImageDraw.Draw(img)
        return [
            self._draw_block(draw, block, tpl.text, by, centered=tpl.centered, colour=colour)
            for (block, by, _), (colour, _) in zip(positioned, colours, strict=True)
        ]

    @staticmethod
    def _left(width: int, region: Box, centered: bool, rtl: bool) -> int:
        """Left edge of something ``width`` wide aligned in ``region``: centred, or to the start side."""
        if centered:
            return region.x0 + (region.width - width) // 2
        return region.x1 - width if rtl else region.x0

    def _text_area(self, block: Block, region: Box, y: int, centered: bool) -> Box:
        bx0 = self._left(block.width, region, centered, block.spec.style.direction == "rtl")
        return Box(bx0, y, bx0 + block.width, y + block.height)

    def _draw_block(
        self, draw: ImageDraw.ImageDraw, block: Block, region: Box, y: int, *, centered: bool, colour: Colour
    ) -> PlacedText:
        st = block.spec.style
        font = block.font
        ink: Box | None = None
        for i, line in enumerate(block.lines):
            width, overhang = line_geometry(font, line, st)
            x = self._left(width, region, centered, st.direction == "rtl") - overhang
            ly = y + i * block.line_h
            draw.text(
                (x, ly),
                line,
                font=font,
                fill=colour,
                anchor="la",
                direction=st.direction,
                language=st.language,
            )
            x0, y0, x1, y1 = draw.textbbox(
                (x, ly), line, font=font, anchor="la", direction=st.direction, language=st.language
            )
            lb = Box(math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
            ink = (
                lb
                if ink is None
                else Box(min(ink.x0, lb.x0), min(ink.y0, lb.y0), max(ink.x1, lb.x1), max(ink.y1, lb.y1))
            )
        if ink is None:
            raise EngineError(f"{block.spec.field!r} produced no lines")
        return PlacedText(block.spec.field, region, ink, block.size, block.lines, rgb_to_hex(colour))

    @staticmethod
    def _scrim(img: Image.Image, area: Box, text_colour: Colour, size: int, scrim: _Scrim) -> None:
        """A translucent panel behind text whose background is too busy for any colour to read."""
        pad = max(4, round(0.35 * size))
        dark = relative_luminance(text_colour) > 0.4
        fill = (0, 0, 0, scrim.dark_alpha) if dark else (255, 255, 255, scrim.light_alpha)
        _composite_rounded(img, (area.x0 - pad, area.y0 - pad, area.x1 + pad, area.y1 + pad), pad, fill)

    def _draw_button(self, canvas: _Canvas, text: str, shade: float) -> tuple[PlacedText, Box]:
        """The CTA on a button in the accent colour (with a soft shadow), in the template's CTA room;
        the accent mixed ``shade`` of the way toward black under a white label (white under a
        near-black one)."""
        room, st = canvas.tpl.cta, canvas.style(text, "bold")
        cta_min = max(9, round(0.02 * canvas.area))
        # padding scales with the label size: width = text + 1.6 em, height = line + 0.5 em
        spec = FieldSpec("cta", text, st, 1.0, cta_min, 1.0)
        max_size = max(cta_min, round(0.045 * canvas.area), round(0.38 * room.height))
        block = fit_line(
            spec, room.width, room.height, max_size=max_size, where=canvas.where, pad_x=0.8, pad_y=0.25
        )
        button = _button_box(
            canvas.tpl, block.width + round(1.6 * block.size), block.extent + round(0.5 * block.size)
        )
        fill, colour = _button_colours(canvas.recipe.accent, shade)
        draw = _draw_button_shape(canvas.img, button, canvas.tpl.kind, fill)
        centre, line = ((button.x0 + button.x1) // 2, (button.y0 + button.y1) // 2), block.lines[0]
        draw.text(
            centre,
            line,
            font=block.font,
            fill=colour,
            anchor="mm",
            direction=st.direction,
            language=st.language,
        )
        x0, y0, x1, y1 = draw.textbbox(
            centre, line, font=block.font, anchor="mm", direction=st.direction, language=st.language
        )
        ink = Box(math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
        return PlacedText("cta", room, ink, block.size, block.lines, rgb_to_hex(colour)), button

    @staticmethod
    def _place_logo(img: Image.Image, logo_png: bytes | None, tpl: Template, rtl: bool) -> Box | None:
        if not logo_png:
            return None
        box = tpl.logo
        logo = _scaled_logo(logo_png, box.width, box.height)
        w, h = logo.size
        if tpl.centered:
            x = box.x0 + (box.width - w) // 2
        elif rtl:
            x = box.x1 - w
        else:
            x = box.x0
        y = box.y0 + (box.height - h) // 2
        img.alpha_composite(logo, (x, y))
        return Box(x, y, x + w, y + h)
