"""Fingerprint figures: perceptual-hash computation per 1080x1080 PNG, index build and lookup at 1M.

Also home of :func:`synthetic_ad`, a procedural ad-variant generator (brand palette, fixed layout,
seeded gradient/shapes/headline) used here and by the verify tests as realistic hard negatives.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mintloom.bench import Figure
from mintloom.bench.pipeline import load
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


ROWS = 1_000_000
TEMPLATES = 2_000
"""Clustered data: ``TEMPLATES`` designs × ``ROWS // TEMPLATES`` near-identical variants each."""
REAL_ADS = 40
QUERIES = 2_000


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is (the tests run small ones)."""

    rows: int = ROWS
    templates: int = TEMPLATES
    real_ads: int = REAL_ADS
    queries: int = QUERIES
    ad_size: int = 1080


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
            note=f"{len(REGISTRATION_CROPS)} views (original + crops), from the PNG (verify side)",
        ),
    ]


@dataclass(frozen=True)
class Lookups:
    """Per-query times (ms), candidates scanned, and how many queries matched."""

    ms: np.ndarray
    scanned: np.ndarray
    found: int
    right: int
    """Matches whose id is the expected one (or, clustered, in the expected design)."""


def _lookups(index: FingerprintIndex, queries: list[Fingerprint], expect: list[int | None]) -> Lookups:
    times, scanned = np.empty(len(queries)), np.empty(len(queries), np.int64)
    found = right = 0
    for i, (q, want) in enumerate(zip(queries, expect, strict=True)):
        t0 = time.perf_counter()
        m = index.nearest(q)
        times[i] = time.perf_counter() - t0
        scanned[i] = index.scanned(q.phash)
        found += m is not None
        right += m is not None and want is not None and _same(m.id, want)
    return Lookups(times * 1e3, scanned, found, right)


_CLUSTER = 1 << 40
"""Clustered ids are ``design * _CLUSTER + variant``: a match is right when the design is."""


def _same(found: int, want: int) -> bool:
    return found == want or (found >= _CLUSTER and found // _CLUSTER == want // _CLUSTER)


def _flip(rng: np.random.Generator, h: int, most: int) -> int:
    for b in rng.choice(64, int(rng.integers(0, most + 1)), replace=False):
        h ^= 1 << int(b)
    return h


def uniform_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` rows of independent random hashes: the best case for multi-index hashing."""
    ph = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    dh = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    return np.arange(n, dtype=np.int64), ph, dh


def clustered_rows(
    rng: np.random.Generator, n: int, templates: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``templates`` designs × ``n // templates`` variants: each variant is its design's hashes
    with 0–6 pHash and 0–8 dHash bits flipped (a changed headline, colour or crop of one
    template, as a campaign makes them), so every query lands in a dense cluster."""
    per = n // templates
    base_p = rng.integers(0, 2**64 - 1, templates, dtype=np.uint64, endpoint=True)
    base_d = rng.integers(0, 2**64 - 1, templates, dtype=np.uint64, endpoint=True)
    ph = np.repeat(base_p, per) ^ _flip_masks(rng, templates * per, 6)
    dh = np.repeat(base_d, per) ^ _flip_masks(rng, templates * per, 8)
    design, variant = np.divmod(np.arange(templates * per, dtype=np.int64), per)
    return design * _CLUSTER + variant, ph, dh


def _flip_masks(rng: np.random.Generator, n: int, most: int) -> np.ndarray:
    """``n`` 64-bit masks with 0..``most`` bits set (vectorised; bits may coincide, so fewer)."""
    masks = np.zeros(n, np.uint64)
    counts = rng.integers(0, most + 1, n)
    for k in range(most):
        bits = rng.integers(0, 64, n).astype(np.uint64)
        masks |= np.where(counts > k, np.uint64(1) << bits, np.uint64(0))
    return masks


def _queries(
    rng: np.random.Generator, ids: np.ndarray, ph: np.ndarray, dh: np.ndarray, count: int
) -> tuple[list[Fingerprint], list[int | None]]:
    """Near-duplicates of indexed rows: up to 8 pHash and 4 dHash bits flipped."""
    out: list[Fingerprint] = []
    want: list[int | None] = []
    for row in rng.integers(0, len(ids), count):
        out.append(Fingerprint(phash=_flip(rng, int(ph[row]), 8), dhash=_flip(rng, int(dh[row]), 4)))
        want.append(int(ids[row]))
    return out, want


def _index(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray], real: list[list[Fingerprint]]
) -> tuple[FingerprintIndex, float]:
    """The index of ``rows`` plus the registration views of real ads (ids -1, -2, ...)."""
    t0 = time.perf_counter()
    index = FingerprintIndex.build(*rows)
    for i, fps in enumerate(real):
        index.add_fingerprints(-1 - i, fps)
    index.nearest(Fingerprint(phash=0, dhash=0))  # forces the lazy rebuild
    return index, time.perf_counter() - t0


def _suite(
    name: str,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    pngs: list[bytes],
    sizes: Sizes,
    rng: np.random.Generator,
) -> list[Figure]:
    """Lookup figures on one data set: near-duplicates of indexed rows and of indexed real ads,
    and misses (random hashes and real ads that were never indexed: hard negatives that share
    the brand palette and layout)."""
    indexed = pngs[: len(pngs) // 4]
    index, build_s = _index(rows, [registration_fingerprints(p) for p in indexed])
    near, want = _queries(rng, *rows, sizes.queries)
    near += [fingerprint(p) for p in indexed]
    want += [-1 - i for i in range(len(indexed))]
    randoms = rng.integers(0, 2**64 - 1, (sizes.queries, 2), dtype=np.uint64, endpoint=True)
    unrelated = [fingerprint(p) for p in pngs[len(indexed) :]]
    misses = [Fingerprint(phash=int(a), dhash=int(b)) for a, b in randoms] + unrelated
    hit, miss = _lookups(index, near, want), _lookups(index, misses, [None] * len(misses))
    false_real = _lookups(index, unrelated, [None] * len(unrelated)).found
    both = np.concatenate([hit.ms, miss.ms])
    scanned = np.concatenate([hit.scanned, miss.scanned])
    n, where = len(index), f"{name} data, {len(index)} rows"
    data = (
        "independent random hashes"
        if name == "uniform"
        else f"{sizes.templates} designs x {sizes.rows // sizes.templates} near-identical variants"
    )
    return [
        Figure(f"fingerprint_index_build_s_{name}", build_s, "s", note=f"{n} rows, m={index.m}"),
        Figure(
            f"fingerprint_lookup_ms_{name}",
            float(np.percentile(both, 99)),
            "ms",
            10,
            "<=",
            f"p99 over {len(both)} near-duplicate and miss queries, radius {PHASH_MAX_DISTANCE}, "
            f"{data} + {len(indexed)} real ads' registration views; {load()}",
        ),
        Figure(
            f"fingerprint_lookup_scanned_{name}_median",
            float(np.median(scanned)),
            "candidates/query",
            note=f"rows a query checks in full ({where}); p99 {np.percentile(scanned, 99):.0f}, "
            f"max {scanned.max()}",
        ),
        Figure(
            f"fingerprint_lookup_near_found_{name}",
            hit.right / len(near),
            "fraction",
            note=f"<= 8 pHash / 4 dHash bits flipped: {hit.right}/{len(near)} matched the right "
            f"{'design' if name == 'clustered' else 'row'} ({hit.found} matched anything)",
        ),
        Figure(
            f"fingerprint_false_matches_{name}",
            false_real,
            "matches",
            0,
            "<=",
            f"unrelated real ads (same palette and layout, never indexed): {false_real}/{len(unrelated)} "
            f"matched; random hashes: {miss.found - false_real}/{len(misses) - len(unrelated)}",
        ),
    ]


def measure(work: Path, sizes: Sizes) -> list[Figure]:
    del work  # nothing persisted
    ads = [synthetic_ad(9000 + i, size=sizes.ad_size) for i in range(sizes.real_ads)]
    pngs = [png_bytes(img) for img in ads]
    figures = _compute(pngs)
    rng = np.random.default_rng(11)
    uniform = _suite("uniform", uniform_rows(rng, sizes.rows), pngs, sizes, rng)
    clustered = _suite("clustered", clustered_rows(rng, sizes.rows, sizes.templates), pngs, sizes, rng)
    worst = max(f.value for f in [*uniform, *clustered] if f.name.startswith("fingerprint_lookup_ms_"))
    return [
        *figures,
        *uniform,
        *clustered,
        Figure(
            "fingerprint_lookup_ms_at_1M",
            worst,
            "ms",
            10,
            "<=",
            f"the worse p99 of uniform and clustered data ({sizes.rows} synthetic rows each, plus "
            "the indexed real ads' registration views)",
        ),
    ]


def run(work: Path) -> list[Figure]:
    return measure(work, Sizes())
