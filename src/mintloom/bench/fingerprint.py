"""Fingerprint figures: perceptual-hash computation per 1080x1080 PNG, index build and lookup at 1M.

Also home of :func:`synthetic_ad`, a procedural ad-variant generator (brand palette, fixed layout,
seeded gradient/shapes/headline) used here and by the verify tests as realistic hard negatives.
"""

from __future__ import annotations

import io
import time
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mintloom.bench import Figure
from mintloom.provenance.fingerprint import (
    REGISTRATION_CROPS,
    Fingerprint,
    fingerprint,
    registration_fingerprints,
)
from mintloom.verify.index import PHASH_MAX_DISTANCE, FingerprintIndex

BRAND_PALETTE: tuple[tuple[int, int, int], ...] = (
    (12, 35, 64),  # navy
    (240, 90, 40),  # orange
    (250, 244, 230),  # cream
    (0, 150, 136),  # teal
    (255, 200, 60),  # yellow
)
_WORDS = tuple(
    [
        "summer",
        "sale",
        "fresh",
        "new",
        "bold",
        "bright",
        "save",
        "more",
        "today",
        "only",
        "limited",
        "drop",
        "style",
        "comfort",
        "power",
        "city",
        "night",
        "ride",
        "run",
        "coffee",
        "deals",
        "free",
        "ship",
        "bundle",
        "smart",
        "home",
        "glow",
        "fast",
    ]
)
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def headline_for(seed: int) -> str:
    rng = np.random.default_rng(seed + 1_000_003)
    return " ".join(str(w) for w in rng.choice(_WORDS, size=3, replace=False)).upper()


def synthetic_ad(seed: int, headline: str | None = None, size: int = 1080) -> Image.Image:
    """An RGB ad variant: palette gradient background, hero shapes, headline and CTA button.

    Every variant uses :data:`BRAND_PALETTE` and the same layout (headline top, hero middle, CTA
    bottom); the seed moves the gradient, hero shapes and colours, and picks the headline.
    """
    rng = np.random.default_rng(seed)
    pal = np.array(BRAND_PALETTE, dtype=np.float32)
    c0, c1, c_hero, c_text = rng.choice(len(pal), size=4, replace=False)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + (np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)), 0, 1)[..., None]
    ripple = 0.08 * np.sin((x * rng.uniform(2, 9) + y * rng.uniform(2, 9)) * np.pi)[..., None]
    bg = pal[c0] * (1 - t) + pal[c1] * t + 255 * ripple
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    s = size / 1080

    def col(i: int) -> tuple[int, int, int]:
        r, g, b = BRAND_PALETTE[i]
        return (r, g, b)

    # hero: a big shape in the middle band plus a few accents
    cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.4, 0.6) * size
    r = rng.uniform(0.15, 0.28) * size
    if rng.random() < 0.5:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=col(int(c_hero)))
    else:
        draw.rounded_rectangle(
            (cx - r, cy - 0.7 * r, cx + r, cy + 0.7 * r), radius=int(40 * s), fill=col(int(c_hero))
        )
    for _ in range(int(rng.integers(3, 7))):
        ax, ay = rng.uniform(0.05, 0.95) * size, rng.uniform(0.25, 0.8) * size
        ar = rng.uniform(0.02, 0.08) * size
        ci = int(rng.integers(len(pal)))
        if rng.random() < 0.5:
            draw.ellipse((ax - ar, ay - ar, ax + ar, ay + ar), fill=col(ci))
        else:
            draw.polygon([(ax, ay - ar), (ax + ar, ay + ar), (ax - ar, ay + ar)], fill=col(ci))
    # headline (top band) and CTA (bottom band)
    text = headline if headline is not None else headline_for(seed)
    draw.text((size * 0.07, size * 0.07), text, fill=col(int(c_text)), font=_font(int(78 * s)))
    bx0, by0 = size * rng.uniform(0.25, 0.4), size * 0.83
    draw.rounded_rectangle(
        (bx0, by0, bx0 + 0.35 * size, by0 + 0.1 * size), radius=int(30 * s), fill=col(int(c_text))
    )
    draw.text((bx0 + 40 * s, by0 + 25 * s), "SHOP NOW", fill=col(int(c0)), font=_font(int(48 * s)))
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


RANDOM_ROWS = 1_000_000
REAL_ADS = 40
QUERIES = 2_000


def _compute(pngs: list[bytes]) -> list[Figure]:
    t0 = time.perf_counter()
    for data in pngs:
        fingerprint(data)
    per = (time.perf_counter() - t0) / len(pngs) * 1e3
    t0 = time.perf_counter()
    for data in pngs[:10]:
        registration_fingerprints(data)
    reg = (time.perf_counter() - t0) / min(10, len(pngs)) * 1e3
    return [
        Figure("fingerprint_compute_ms_per_1080_png", per, "ms", note="decode + normalise + pHash + dHash"),
        Figure(
            "fingerprint_registration_ms_per_1080_png",
            reg,
            "ms",
            note=f"{len(REGISTRATION_CROPS)} views (original + crops)",
        ),
    ]


def _lookups(index: FingerprintIndex, queries: list[Fingerprint]) -> tuple[np.ndarray, int]:
    times = np.empty(len(queries))
    found = 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        m = index.nearest(q)
        times[i] = time.perf_counter() - t0
        found += m is not None
    return times * 1e3, found


def run(work: Path) -> list[Figure]:
    ads = [synthetic_ad(9000 + i) for i in range(REAL_ADS)]
    pngs = [png_bytes(img) for img in ads]
    figures = _compute(pngs)

    rng = np.random.default_rng(11)
    ph = rng.integers(0, 2**64 - 1, RANDOM_ROWS, dtype=np.uint64, endpoint=True)
    dh = rng.integers(0, 2**64 - 1, RANDOM_ROWS, dtype=np.uint64, endpoint=True)
    ids = np.arange(RANDOM_ROWS, dtype=np.int64)
    real = [registration_fingerprints(p) for p in pngs[:10]]
    t0 = time.perf_counter()
    index = FingerprintIndex.build(ids, ph, dh)
    for i, fps in enumerate(real):
        index.add_fingerprints(RANDOM_ROWS + i, fps)
    index.nearest(Fingerprint(phash=0, dhash=0))  # forces the lazy rebuild
    build_s = time.perf_counter() - t0

    near: list[Fingerprint] = []
    for _ in range(QUERIES):
        row = int(rng.integers(RANDOM_ROWS))
        p, d = int(ph[row]), int(dh[row])
        for b in rng.choice(64, int(rng.integers(0, 9)), replace=False):
            p ^= 1 << int(b)
        for b in rng.choice(64, int(rng.integers(0, 5)), replace=False):
            d ^= 1 << int(b)
        near.append(Fingerprint(phash=p, dhash=d))
    near += [fingerprint(p) for p in pngs[:10]]
    misses = [
        Fingerprint(phash=int(a), dhash=int(b))
        for a, b in rng.integers(0, 2**64 - 1, (QUERIES, 2), dtype=np.uint64, endpoint=True)
    ]
    misses += [fingerprint(p) for p in pngs[10:]]
    near_ms, near_found = _lookups(index, near)
    miss_ms, miss_found = _lookups(index, misses)
    both = np.concatenate([near_ms, miss_ms])
    n = len(index)
    return [
        *figures,
        Figure("fingerprint_index_build_s_at_1M", build_s, "s", note=f"{n} rows, m={index.m}"),
        Figure(
            "fingerprint_lookup_ms_at_1M",
            float(np.percentile(both, 99)),
            "ms",
            10,
            "<=",
            f"p99 over {len(both)} near-duplicate and miss queries, radius {PHASH_MAX_DISTANCE}",
        ),
        Figure(
            "fingerprint_lookup_near_ms_median",
            float(np.median(near_ms)),
            "ms",
            note=f"<= 8 pHash bits flipped; {near_found}/{len(near)} found",
        ),
        Figure("fingerprint_lookup_near_ms_p99", float(np.percentile(near_ms, 99)), "ms"),
        Figure(
            "fingerprint_lookup_miss_ms_median",
            float(np.median(miss_ms)),
            "ms",
            note=f"random and unindexed real ads; {miss_found}/{len(misses)} (false) matches",
        ),
        Figure("fingerprint_lookup_miss_ms_p99", float(np.percentile(miss_ms, 99)), "ms"),
    ]
