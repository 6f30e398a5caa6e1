"""Perceptual fingerprints: the soft binding that finds a file's record after its metadata was stripped.

Computed by the campaign workers when an image is registered (the original and its registration
views go into the catalog) and by ``verify`` for a file without a credential: one module for both
sides, so what is stored and what is looked up are the same hash.

A :class:`Fingerprint` is a 64-bit pHash (DCT of a 32x32 greyscale thumbnail, 8x8 low frequencies
against their median) plus a 64-bit dHash (horizontal gradient signs of a 9x8 thumbnail), both
computed exactly as the maintained ``imagehash`` library computes them (a test holds the two equal).
The pHash is what the nearest-neighbour index
(:mod:`mintloom.verify.index`) searches; the dHash is an independent second opinion that confirms a
pHash candidate, which keeps false positives down among ad variants that share palette and layout.

Before hashing, the image is normalised so that container and colour-model differences do not
change the hash: EXIF orientation is applied, palette and alpha images are composited on white and
everything is converted to RGB, then to greyscale.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import numpy as np
import scipy.fftpack
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from mintloom.errors import ImageTooLargeError, VerifyError

HASH_BITS = 64
_MASK64 = (1 << HASH_BITS) - 1
_HEX_DIGITS = HASH_BITS // 4
_HEX_RE = re.compile(f"[0-9a-fA-F]{{{2 * _HEX_DIGITS}}}")

_C = 0.05
#: Crops (left, top, right, bottom as fractions) of an original that are indexed beside it: the
#: symmetric 2.5% and 5% zooms, 5% off each single side and off each pair of adjacent sides. With
#: them a query cropped by up to 5% per side stays within 8 pHash bits of its original (measured),
#: against 14+ bits without them.
REGISTRATION_CROPS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 0.0, 0.0),
    (0.025, 0.025, 0.025, 0.025),
    (_C, _C, _C, _C),
    (_C, 0.0, 0.0, 0.0),
    (0.0, _C, 0.0, 0.0),
    (0.0, 0.0, _C, 0.0),
    (0.0, 0.0, 0.0, _C),
    (_C, _C, 0.0, 0.0),
    (0.0, _C, _C, 0.0),
    (0.0, 0.0, _C, _C),
    (_C, 0.0, 0.0, _C),
)

Hash64 = Annotated[int, Field(ge=0, le=_MASK64)]


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return ((a ^ b) & _MASK64).bit_count()


class Fingerprint(BaseModel):
    """pHash + dHash of one image; ``hex()`` is 32 lowercase hex digits (pHash first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phash: Hash64
    dhash: Hash64

    def hex(self) -> str:
        return f"{self.phash:0{_HEX_DIGITS}x}{self.dhash:0{_HEX_DIGITS}x}"

    @classmethod
    def from_hex(cls, text: str) -> Fingerprint:
        s = text.strip()
        if not _HEX_RE.fullmatch(s):
            raise VerifyError(
                f"a fingerprint is {2 * _HEX_DIGITS} hexadecimal digits (pHash then dHash), got {text!r}"
            )
        return cls(phash=int(s[:_HEX_DIGITS], 16), dhash=int(s[_HEX_DIGITS:], 16))

    def phash_distance(self, other: Fingerprint) -> int:
        return hamming(self.phash, other.phash)

    def dhash_distance(self, other: Fingerprint) -> int:
        return hamming(self.dhash, other.dhash)

    def distance(self, other: Fingerprint) -> tuple[int, int]:
        """``(pHash distance, dHash distance)``."""
        return self.phash_distance(other), self.dhash_distance(other)


def normalise(img: Image.Image) -> Image.Image:
    """EXIF-transposed RGB image; transparency (alpha or palette) composited on white. An upright
    RGB image is returned as it is (not copied: the hashes only read it)."""
    if img.getexif().get(ExifTags.Base.Orientation, 1) in _TRANSPOSED:
        img = ImageOps.exif_transpose(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA") or (img.mode == "L" and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode == "I;16" or img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.uint16) >> 8
        img = Image.fromarray(arr.astype(np.uint8), "L")
    elif img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(scaled.astype(np.uint8), "L")
    return img if img.mode == "RGB" else img.convert("RGB")


_TRANSPOSED = frozenset(range(2, 9))
"""EXIF orientations that :func:`ImageOps.exif_transpose` turns (1 is upright)."""


WORKING_SIZE = 256
"""Images are box-reduced to about this size before hashing: the hashes look at 32x32 and 9x8
thumbnails, so detail beyond it only costs time (a 1080 px image hashes ~8x faster)."""


def _working_copy(img: Image.Image) -> Image.Image:
    factor = max(img.width, img.height) // WORKING_SIZE
    return img.reduce(factor) if factor >= 2 else img


def fingerprint_image(img: Image.Image) -> Fingerprint:
    """Fingerprint of an already decoded image."""
    norm = normalise(img)
    if norm.width < 2 or norm.height < 2:
        raise VerifyError(f"image is too small to fingerprint ({norm.width}x{norm.height})")
    return _fingerprints(*_whole_thumbnails(_pixels(_working_copy(norm).convert("L"))))[0]


def _pixels(grey: Image.Image) -> np.ndarray:
    """A greyscale image as a (height, width) float64 array (``tobytes`` costs ~3x less than
    ``np.asarray`` of the image)."""
    flat = np.frombuffer(grey.tobytes(), np.uint8)
    return flat.reshape(grey.height, grey.width).astype(np.float64)


_THUMBNAILS = ((32, 32), (9, 8))
"""The pHash and the dHash thumbnail sizes."""


def _whole_thumbnails(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pHash and dHash thumbnails of a whole reduced greyscale image, as ``imagehash`` makes
    them (Pillow's LANCZOS resize to 32x32 and 9x8), each with a leading axis of length 1."""
    h, w = grey.shape
    whole = ((0.0, 0.0, float(w), float(h)),)
    return _resampler((w, h), _THUMBNAILS[0], whole)(grey), _resampler((w, h), _THUMBNAILS[1], whole)(grey)


def _fingerprints(phash_thumbnails: np.ndarray, dhash_thumbnails: np.ndarray) -> list[Fingerprint]:
    """pHash of each (32, 32) thumbnail and dHash of each (8, 9) one, as ``imagehash.phash`` and
    ``imagehash.dhash`` (hash_size 8) compute them, in one numpy pass over all of them (the same
    arithmetic per thumbnail: the registration views cost one DCT call, not eleven). The hashes are
    64-bit by construction, so the models are built without validation."""
    n = len(phash_thumbnails)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(phash_thumbnails, axis=1), axis=2)
    low = dct[:, :8, :8].reshape(n, 64)
    middle = np.partition(low, (31, 32), axis=1)  # np.median's own steps, without its checks
    phash = _pack(low > (middle[:, 31:32] + middle[:, 32:33]) / 2)
    dhash = _pack((dhash_thumbnails[:, :, 1:] > dhash_thumbnails[:, :, :-1]).reshape(n, 64))
    return [Fingerprint.model_construct(phash=p, dhash=d) for p, d in zip(phash, dhash, strict=True)]


# -- Pillow's LANCZOS resize as two matrix products ---------------------------------------------
#
# Pillow resizes an 8-bit image in two passes (horizontal then vertical, or the other way round in
# Pillow 13 when the height shrinks much more), each a weighted sum of the source pixels with
# integer weights (the filter's coefficients in fixed point, 22 fraction bits), rounded and clipped
# to 0..255 after each pass. The weights depend only on the sizes and the box, so they are computed
# once per (size, box) here, as Pillow 13.0 computes them (same double arithmetic, same libm
# ``sin``), and a pass is a matrix product in float64: the products and their sums are integers
# below 2**53, so the result is exact whatever the order of the sum, and the thumbnails are
# Pillow's bit for bit (tests/verify holds them equal on random sizes and boxes, and the hashes
# equal to ``imagehash``'s: a Pillow upgrade that changes its resize arithmetic fails those tests).
# What this saves is Pillow's per-call work: the weights (two ``sin`` per tap, recomputed by every
# resize) and a scalar convolution (the 22 thumbnails of a 1080 px ad: ~1.2 ms of CPU against
# ~1.9 ms as 22 Pillow resizes, measured on a busy two-core machine). The weights of a size not seen
# before cost ~7 ms for the registration views and ~2.5 ms for a query (``math.sin`` per tap): once
# per image size and process in a campaign, at most :func:`_resampler`'s cache size in ``verify``.

_FRACTION_BITS = 22
"""Pillow's ``PRECISION_BITS`` for 8-bit resampling."""
_ONE = float(1 << _FRACTION_BITS)
_LANCZOS_SUPPORT = 3.0

Box = tuple[float, float, float, float]


def _sinc(x: np.ndarray) -> np.ndarray:
    """Pillow's ``sinc_filter`` elementwise, with ``math.sin`` (the C library's, as Pillow's)."""
    t = x * math.pi
    sin = np.fromiter(map(math.sin, t.ravel().tolist()), np.float64, t.size).reshape(t.shape)
    safe = np.where(x == 0.0, 1.0, t)
    return np.where(x == 0.0, 1.0, sin / safe)


def _lanczos(x: np.ndarray) -> np.ndarray:
    """Pillow's ``lanczos_filter`` elementwise: a sinc truncated by a three times wider one."""
    return np.where((x >= -3.0) & (x < 3.0), _sinc(x) * _sinc(x / 3), 0.0)


def _axis_weights(in_size: int, lo: np.ndarray, hi: np.ndarray, out_size: int) -> np.ndarray:
    """Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` for LANCZOS along one axis, for
    the single-precision box edges ``lo`` and ``hi`` of several boxes at once: a (boxes, out_size,
    in_size) array of the integer weights (zero outside each output's window)."""
    scale = (hi - lo).astype(np.float64)[:, None] / out_size  # Pillow subtracts C floats
    filterscale = np.maximum(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    ksize = math.ceil(float(support.max())) * 2 + 1
    centers = lo.astype(np.float64)[:, None] + (np.arange(out_size) + 0.5) * scale
    first = np.maximum(np.trunc(centers - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(centers + support + 0.5), in_size).astype(np.int64) - first
    taps = first[..., None] + np.arange(ksize)
    inside = np.arange(ksize) < count[..., None]
    x = ((taps - centers[..., None]) + 0.5) * (1.0 / filterscale)[..., None]
    w = np.where(inside, _lanczos(x), 0.0)
    total = np.add.accumulate(w, axis=-1)[..., -1:]  # summed in tap order, as Pillow's loop
    k = np.divide(w, total, out=w.copy(), where=total != 0.0)
    fixed = np.where(k < 0, np.trunc(-0.5 + k * _ONE), np.trunc(0.5 + k * _ONE))
    matrix = np.zeros((len(lo), out_size, in_size))
    box, row = np.indices(taps.shape[:2])
    matrix[
        np.broadcast_to(box[..., None], taps.shape)[inside],
        np.broadcast_to(row[..., None], taps.shape)[inside],
        taps[inside],
    ] = fixed[inside]
    return matrix


def _axis(in_size: int, lo: np.ndarray, hi: np.ndarray, out_size: int, crop: np.ndarray) -> np.ndarray:
    """One pass of Pillow's resize for several boxes, as (boxes, out_size, in_size) weights: a shifted
    identity where Pillow crops instead of resampling (an integral box of the output's size), the
    identity where it skips the pass (same size, whole extent), else the LANCZOS weights."""
    edges, which = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    matrix = _axis_weights(in_size, edges[:, 0], edges[:, 1], out_size)[which.ravel()]  # crops share edges
    for i in np.flatnonzero(crop):
        matrix[i] = np.eye(out_size, in_size, int(lo[i])) * _ONE
    if out_size == in_size:
        matrix[(lo == 0) & (hi == out_size)] = np.eye(out_size) * _ONE
    return matrix


@dataclass(frozen=True)
class _Band:
    """Some consecutive outputs of a pass and the inputs they weigh (a LANCZOS window is narrow
    when it shrinks a lot: the whole image's 32 columns each weigh ~52 of 270 source columns)."""

    outputs: slice
    inputs: slice
    weights: np.ndarray
    """(outputs, inputs) for a vertical pass, (inputs, outputs) for a horizontal one."""


_BAND = 8
"""Outputs per band of a pass."""
_MAX_BANDS = 8
"""More bands than this cost more in calls than they save in multiply-adds (measured: the ten crop
views' 320 columns as 40 bands took longer than one dense product)."""


def _bands(weights: np.ndarray, horizontal: bool) -> tuple[_Band, ...]:
    """A pass's (outputs, inputs) ``weights`` in bands of :data:`_BAND` outputs when that halves the
    multiply-adds in at most :data:`_MAX_BANDS` products, else as one band."""
    outputs, inputs = weights.shape
    used = weights != 0
    first = np.where(used.any(axis=1), used.argmax(axis=1), inputs)
    last = np.where(used.any(axis=1), inputs - used[:, ::-1].argmax(axis=1), 0)
    spans = []
    for lo in range(0, outputs, _BAND):
        hi = min(lo + _BAND, outputs)
        start, stop = int(first[lo:hi].min()), int(last[lo:hi].max())
        spans.append((slice(lo, hi), slice(start, stop) if stop > start else slice(0, 1)))
    banded = sum((o.stop - o.start) * (i.stop - i.start) for o, i in spans)
    if len(spans) > _MAX_BANDS or 2 * banded > outputs * inputs:
        spans = [(slice(0, outputs), slice(0, inputs))]
    return tuple(
        _Band(o, i, np.ascontiguousarray(weights[o, i].T if horizontal else weights[o, i])) for o, i in spans
    )


@dataclass(frozen=True)
class _Resampler:
    """Pillow's LANCZOS ``resize(size, box=...)`` of one source size to several boxes at once: the
    first pass over the source for all the boxes together (in bands), the second for each box."""

    first: tuple[_Band, ...]
    """The first pass of every box, outputs one box after the other."""
    second: np.ndarray
    """The second pass of each box: (boxes, output height, source height) when it is the vertical
    one, (boxes, source width, output width) when it is the horizontal one."""
    down_first: bool
    """Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
    pixels as the width (``ImagingResampleInner``); the passes round in between, so order counts."""

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """The (boxes, output height, output width) thumbnails of (height, width) ``pixels``."""
        n = len(self.second)
        height, width = pixels.shape
        if self.down_first:
            down = np.empty((self.first[-1].outputs.stop, width))
            for band in self.first:
                down[band.outputs] = _product(band.weights, pixels[band.inputs])
            return _rounded(_product(_rounded(down).reshape(n, -1, width), self.second))
        across = np.empty((height, self.first[-1].outputs.stop))
        for band in self.first:
            across[:, band.outputs] = _product(pixels[:, band.inputs], band.weights)
        stacked = np.ascontiguousarray(_rounded(across).reshape(height, n, -1).transpose(1, 0, 2))
        return _rounded(_product(self.second, stacked))


@lru_cache(maxsize=32)
def _resampler(source: tuple[int, int], size: tuple[int, int], boxes: tuple[Box, ...]) -> _Resampler:
    """The weights of ``resize(size, LANCZOS, box)`` on a greyscale image of ``source`` size for each
    box (a campaign has a few image sizes, so a worker computes these a few times in its life)."""
    x0, y0, x1, y1 = np.array(boxes, np.float32).T  # Pillow takes the box as C floats
    crop = (x0 == np.trunc(x0)) & (y0 == np.trunc(y0)) & (x1 - x0 == size[0]) & (y1 - y0 == size[1])
    across = _axis(source[0], x0, x1, size[0], crop)
    down = _axis(source[1], y0, y1, size[1], crop)
    shrink_w, shrink_h = source[0] - size[0], source[1] - size[1]
    if shrink_h > 0 and shrink_h > 2 * shrink_w:
        second = np.ascontiguousarray(across.transpose(0, 2, 1))
        return _Resampler(_bands(down.reshape(-1, source[1]), horizontal=False), second, down_first=True)
    return _Resampler(_bands(across.reshape(-1, source[0]), horizontal=True), down, down_first=False)


def _rounded(sums: np.ndarray) -> np.ndarray:
    """Fixed-point sums to pixels: Pillow's ``clip8`` (add a half, shift out the fraction, clip)."""
    return np.clip(np.floor((sums + _ONE / 2) / _ONE), 0.0, 255.0)


_ONE_THREAD = 4 * 65536
"""OpenBLAS splits a product of more than 4 x 65536 multiply-adds (m * n * k) across threads; on a
busy two-core worker that costs several times the product itself, so larger ones go in slices."""


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``, in slices of ``a``'s rows small enough for one thread each."""
    m, k = a.shape[-2:]
    step = max(1, _ONE_THREAD // (k * b.shape[-1]))
    if m <= step:
        whole: np.ndarray = np.matmul(a, b)
        return whole
    return np.concatenate([np.matmul(a[..., i : i + step, :], b) for i in range(0, m, step)], axis=-2)


VIEW_REDUCING_GAP = 2.0
"""The registration crops are resampled from box-reduced copies of the working copy, then Lanczos:
about twice each thumbnail's size, as Pillow's ``reducing_gap`` would, but reduced once for all ten
crops instead of once per crop and thumbnail (20 reductions an image became 2). A crop view is an
approximation of a cropped query's hash in any case (it crops the reduced image); a crop of up to
5% per side stays as close to its view (tests/verify). The whole image's view is hashed exactly as
:func:`fingerprint` hashes a query."""


def _crop_thumbnails(
    grey: Image.Image, size: tuple[int, int], boxes: list[tuple[int, int, int, int]]
) -> np.ndarray:
    """The ``size`` thumbnails of the crops ``boxes`` of ``grey``: each is Pillow's LANCZOS resize
    of the box on a copy of ``grey`` box-reduced by about ``size`` times :data:`VIEW_REDUCING_GAP`
    (one copy for all the boxes)."""
    fx = max(1, int(grey.width / size[0] / VIEW_REDUCING_GAP))
    fy = max(1, int(grey.height / size[1] / VIEW_REDUCING_GAP))
    reduced = grey.reduce((fx, fy)) if (fx, fy) != (1, 1) else grey
    scaled = tuple(
        (b[0] / fx, b[1] / fy, min(b[2] / fx, reduced.width), min(b[3] / fy, reduced.height)) for b in boxes
    )
    return _resampler(reduced.size, size, scaled)(_pixels(reduced))


def _pack(bits: np.ndarray) -> list[int]:
    """Rows of 64 booleans (first bit most significant) as integers."""
    return [int.from_bytes(row.tobytes(), "big") for row in np.packbits(bits, axis=1)]


def registration_views(img: Image.Image) -> list[Image.Image]:
    """The original plus the crops in :data:`REGISTRATION_CROPS`, all normalised."""
    return _crops(normalise(img))


def _crops(img: Image.Image) -> list[Image.Image]:
    return [img.crop(box) if box != (0, 0, *img.size) else img for box in _boxes(img.size)]


def _boxes(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The pixel boxes of :data:`REGISTRATION_CROPS` in an image of ``size``."""
    w, h = size
    return [
        (round(w * le), round(h * to), w - round(w * ri), h - round(h * bo))
        for le, to, ri, bo in REGISTRATION_CROPS
    ]


def registration_fingerprints(image_bytes: bytes) -> list[Fingerprint]:
    """Fingerprints to index for an original: one per view in :data:`REGISTRATION_CROPS`.

    A query is always a single :func:`fingerprint`; indexing these views of the original makes a
    crop of up to 5% per side land within a few bits of one of them.
    """
    with _decoded(image_bytes) as img:
        return registration_fingerprints_image(img)


def registration_fingerprints_image(img: Image.Image) -> list[Fingerprint]:
    """:func:`registration_fingerprints` of an already decoded image: an engine hands over the
    pixels it just encoded losslessly, which saves decoding its own output again."""
    norm = normalise(img)
    if norm.width < 2 or norm.height < 2:
        raise VerifyError(f"image is too small to fingerprint ({norm.width}x{norm.height})")
    # reduce and convert once; the views are crops of that working copy, resampled in place
    grey = _working_copy(norm).convert("L")
    boxes = _boxes(grey.size)
    # the original, and any crop that rounds to nothing on a tiny image: hashed as a query is
    whole = np.array([box == (0, 0, *grey.size) for box in boxes])
    crops = [box for box, w in zip(boxes, whole, strict=True) if not w]
    thumbnails = []
    for size, uncropped in zip(_THUMBNAILS, _whole_thumbnails(_pixels(grey)), strict=True):
        views = np.empty((len(boxes), size[1], size[0]))
        views[whole] = uncropped
        if crops:
            views[~whole] = _crop_thumbnails(grey, size, crops)
        thumbnails.append(views)
    return _fingerprints(*thumbnails)


def fingerprint(image_bytes: bytes) -> Fingerprint:
    """Fingerprint of an encoded image (PNG, JPEG, WebP, ...).

    Raises :class:`VerifyError` for bytes that are not a decodable image, truncated files and
    decompression bombs.
    """
    with _decoded(image_bytes) as img:
        return fingerprint_image(img)


MAX_PIXELS = 40_000_000
"""Largest image decoded for a fingerprint (checked in the header first): about 160 MB of RGBA,
well under Pillow's own bomb limit (89 MP warns, 179 MP refuses) which costs gigabytes."""
LARGE_SIDE = 8 * WORKING_SIZE
"""Images with a longer side are shrunk to working size while decoding (JPEG draft) or right
after (box reduce), before normalising makes copies; smaller ones hash exactly as they always did."""


def _check_pixels(img: Image.Image) -> None:
    if img.width * img.height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"cannot fingerprint: the image is {img.width}x{img.height} pixels, "
            f"over the limit of {MAX_PIXELS // 1_000_000} megapixels (a decompression bomb?)"
        )


def _shrink_early(img: Image.Image) -> Image.Image:
    """A large image reduced to about :data:`WORKING_SIZE`: by the JPEG decoder's draft mode (before
    :meth:`~PIL.Image.Image.load`) and then by a box reduce of what was decoded."""
    if max(img.size) < LARGE_SIDE:
        img.load()
        return img
    k = max(img.size) // LARGE_SIDE
    img.draft(img.mode, (img.width // k, img.height // k))  # JPEG: decode at 1/2..1/8 scale
    img.load()
    k = max(img.size) // WORKING_SIZE  # what _working_copy would reduce by: it then keeps the size
    try:
        return img.reduce(k)
    except ValueError:  # modes reduce() does not take (P, 1, I;16): convert first
        return img.convert("RGBA").reduce(k)


@contextmanager
def _decoded(image_bytes: bytes) -> Iterator[Image.Image]:
    if not image_bytes:
        raise VerifyError("cannot fingerprint an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(image_bytes))
            _check_pixels(opened)
            img = _shrink_early(opened)
    except UnidentifiedImageError as exc:
        raise VerifyError("cannot fingerprint: the file is not a recognised image format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise VerifyError(f"cannot fingerprint: image is too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise VerifyError(f"cannot fingerprint: the image is truncated or corrupt ({exc})") from exc
    try:
        yield img
    finally:
        img.close()
