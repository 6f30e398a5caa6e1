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
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    return _hash(_working_copy(norm).convert("L"))


def _hash(grey: Image.Image) -> Fingerprint:
    """pHash and dHash of a normalised, reduced, greyscale image: what ``imagehash.phash`` and
    ``imagehash.dhash`` (hash_size 8) compute, step for step, without their per-call greyscale
    copies and bit loops (the registration views hash 11 times per image in the workers)."""
    lanczos = Image.Resampling.LANCZOS
    return _from_thumbnails([(grey.resize((32, 32), lanczos), grey.resize((9, 8), lanczos))])[0]


def _from_thumbnails(thumbnails: list[tuple[Image.Image, Image.Image]]) -> list[Fingerprint]:
    """pHash of each 32x32 thumbnail and dHash of each 9x8 one, in one numpy pass over all of them
    (the same arithmetic per thumbnail: the registration views cost one DCT call, not eleven).
    The pixels are read with ``tobytes`` (``np.asarray`` of an image costs ~3x more) and the
    hashes are 64-bit by construction, so the models are built without validation."""
    n = len(thumbnails)
    small = _stacked([p for p, _ in thumbnails], (n, 32, 32))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(small, axis=1), axis=2)
    low = dct[:, :8, :8].reshape(n, 64)
    strips = _stacked([d for _, d in thumbnails], (n, 8, 9))
    phash = _pack(low > np.median(low, axis=1, keepdims=True))
    dhash = _pack((strips[:, :, 1:] > strips[:, :, :-1]).reshape(n, 64))
    return [Fingerprint.model_construct(phash=p, dhash=d) for p, d in zip(phash, dhash, strict=True)]


def _stacked(images: list[Image.Image], shape: tuple[int, int, int]) -> np.ndarray:
    """Greyscale images of one size as one (count, height, width) uint8 array."""
    return np.frombuffer(b"".join([i.tobytes() for i in images]), np.uint8).reshape(shape)


VIEW_REDUCING_GAP = 2.0
"""The registration crops are resampled from box-reduced copies of the working copy, then Lanczos:
about twice each thumbnail's size, as Pillow's ``reducing_gap`` would, but reduced once for all ten
crops instead of once per crop and thumbnail (20 reductions an image became 2). A crop view is an
approximation of a cropped query's hash in any case (it crops the reduced image); a crop of up to
5% per side stays as close to its view (tests/verify). The whole image's view is hashed exactly as
:func:`fingerprint` hashes a query."""

_THUMBNAILS = ((32, 32), (9, 8))
"""The pHash and the dHash thumbnail sizes."""


@dataclass(frozen=True)
class _Reduced:
    """``grey`` box-reduced by ``factor`` (x, y) for one thumbnail size: the crops' common source."""

    image: Image.Image
    factor: tuple[int, int]

    @classmethod
    def of(cls, grey: Image.Image, size: tuple[int, int]) -> _Reduced:
        fx = max(1, int(grey.width / size[0] / VIEW_REDUCING_GAP))
        fy = max(1, int(grey.height / size[1] / VIEW_REDUCING_GAP))
        return cls(grey.reduce((fx, fy)) if (fx, fy) != (1, 1) else grey, (fx, fy))

    def thumbnail(self, size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
        fx, fy = self.factor
        scaled = (
            box[0] / fx,
            box[1] / fy,
            min(box[2] / fx, self.image.width),
            min(box[3] / fy, self.image.height),
        )
        return self.image.resize(size, Image.Resampling.LANCZOS, box=scaled)


def _view_thumbnails(
    grey: Image.Image, box: tuple[int, int, int, int], reduced: tuple[_Reduced, _Reduced] | None = None
) -> tuple[Image.Image, Image.Image]:
    """The pHash and dHash thumbnails of the crop ``box`` of ``grey``: the whole image's exactly as
    :func:`fingerprint` makes them for a query, a crop's from ``reduced`` (made here if not given)."""
    lanczos = Image.Resampling.LANCZOS
    if box == (0, 0, grey.width, grey.height):
        return grey.resize((32, 32), lanczos), grey.resize((9, 8), lanczos)
    phash, dhash = reduced or _reductions(grey)
    return phash.thumbnail(_THUMBNAILS[0], box), dhash.thumbnail(_THUMBNAILS[1], box)


def _reductions(grey: Image.Image) -> tuple[_Reduced, _Reduced]:
    return _Reduced.of(grey, _THUMBNAILS[0]), _Reduced.of(grey, _THUMBNAILS[1])


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
    reduced = _reductions(grey)
    return _from_thumbnails([_view_thumbnails(grey, box, reduced) for box in _boxes(grey.size)])


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
