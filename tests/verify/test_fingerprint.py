"""Fingerprints: hex round trip, normalisation, errors, and robustness on realistic ad variants."""

from __future__ import annotations

import io
import itertools
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from mintloom.bench.fingerprint import png_bytes, synthetic_ad
from mintloom.errors import VerifyError
from mintloom.provenance.fingerprint import (
    Fingerprint,
    fingerprint,
    fingerprint_image,
    hamming,
    registration_fingerprints,
)
from mintloom.verify.index import (
    COMBINED_MAX_DISTANCE,
    DHASH_MAX_DISTANCE,
    PHASH_MAX_DISTANCE,
    FingerprintIndex,
)

u64 = st.integers(min_value=0, max_value=2**64 - 1)
N_INDEXED = 50


@given(u64, u64)
def test_hex_round_trip(p: int, d: int) -> None:
    fp = Fingerprint(phash=p, dhash=d)
    text = fp.hex()
    assert len(text) == 32 and text == text.lower()
    assert Fingerprint.from_hex(text) == fp
    assert Fingerprint.from_hex(text.upper()) == fp


@given(st.text(max_size=40))
def test_from_hex_rejects_garbage(text: str) -> None:
    stripped = text.strip()
    if len(stripped) == 32 and all(c in "0123456789abcdefABCDEF" for c in stripped):
        return
    with pytest.raises(VerifyError):
        Fingerprint.from_hex(text)


@given(u64, u64)
def test_hamming(a: int, b: int) -> None:
    assert hamming(a, b) == bin(a ^ b).count("1") == hamming(b, a)
    assert hamming(a, a) == 0


def test_fingerprint_is_frozen_and_range_checked() -> None:
    fp = Fingerprint(phash=1, dhash=2)
    with pytest.raises(ValueError):
        fp.phash = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        Fingerprint(phash=2**64, dhash=0)
    with pytest.raises(ValueError):
        Fingerprint(phash=-1, dhash=0)


def test_matches_imagehash_hex() -> None:
    import imagehash

    img = synthetic_ad(3, size=256)
    fp = fingerprint(png_bytes(img))
    assert fp.hex()[:16] == str(imagehash.phash(img))
    assert fp.hex()[16:] == str(imagehash.dhash(img))


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a garbage"],
)
def test_non_images_raise_verify_error(data: bytes) -> None:
    with pytest.raises(VerifyError):
        fingerprint(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_raises_verify_error(fmt: str) -> None:
    buf = io.BytesIO()
    synthetic_ad(1, size=300).save(buf, fmt)
    data = buf.getvalue()
    with pytest.raises(VerifyError) as info:
        fingerprint(data[: len(data) // 2])
    assert info.value.__cause__ is not None


def _encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_alpha_composited_on_white_and_palette_handled() -> None:
    base = synthetic_ad(5, size=400)
    reference = fingerprint(_encode(base))
    rgba = base.convert("RGBA")
    assert fingerprint(_encode(rgba)) == reference
    # fully transparent pixels become white, whatever colour they hide
    clear = Image.new("RGBA", (400, 400), (255, 0, 0, 0))
    white = Image.new("RGB", (400, 400), (255, 255, 255))
    assert fingerprint(_encode(clear)) == fingerprint(_encode(white))
    # palette (GIF / P-mode PNG), greyscale and 16-bit greyscale still land near the original
    for img in (base.quantize(64), base.convert("L"), base.convert("LA")):
        fp = fingerprint(_encode(img))
        assert fp.phash_distance(reference) <= 4, img.mode
    i16 = np.asarray(base.convert("L"), dtype=np.uint16) * 257
    assert fingerprint(_encode(Image.fromarray(i16))).phash_distance(reference) <= 4
    transparent_palette = base.quantize(16)
    transparent_palette.info["transparency"] = 0
    fingerprint(_encode(transparent_palette))


def test_exif_orientation_is_applied() -> None:
    base = synthetic_ad(8, size=400)
    rotated = base.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... tagged "rotate 90° clockwise to display", which undoes ROTATE_90
    tagged = _encode(rotated, "JPEG", quality=95, exif=exif.tobytes())
    assert fingerprint(tagged).phash_distance(fingerprint(_encode(base))) <= 4
    assert fingerprint(_encode(rotated, "JPEG", quality=95)).phash_distance(fingerprint(_encode(base))) > 10


# --- robustness on realistic ad variants ------------------------------------------------------------
Transform = Callable[[Image.Image, np.random.Generator], bytes]


def _crop(img: Image.Image, fr: np.ndarray) -> Image.Image:
    w, h = img.size
    box = (round(w * fr[0]), round(h * fr[1]), w - round(w * fr[2]), h - round(h * fr[3]))
    return img.crop(box)


def _jpeg70(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _encode(img, "JPEG", quality=70)


def _half(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _encode(img.resize((img.width // 2, img.height // 2), Image.Resampling.BILINEAR))


def _crop5(img: Image.Image, rng: np.random.Generator) -> bytes:
    # each side 0..5%, a third of them at the extremes (0 or 5%)
    fr = np.where(rng.random(4) < 0.33, rng.choice([0.0, 0.05], 4), rng.uniform(0, 0.05, 4))
    return _encode(_crop(img, fr))


def _strip_metadata(img: Image.Image, rng: np.random.Generator) -> bytes:
    # what a social network does: decode, drop EXIF/XMP/C2PA, re-encode
    with_meta = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "mintloom ad"
    img.save(with_meta, "JPEG", quality=92, exif=exif.tobytes())
    stripped = Image.open(io.BytesIO(with_meta.getvalue()))
    return _encode(stripped.convert("RGB"), "JPEG", quality=85)


def _everything(img: Image.Image, rng: np.random.Generator) -> bytes:
    cropped = _crop(img, rng.uniform(0, 0.05, 4))
    small = cropped.resize((cropped.width // 2, cropped.height // 2), Image.Resampling.LANCZOS)
    return _encode(small, "JPEG", quality=70)


TRANSFORMS: dict[str, Transform] = {
    "jpeg70": _jpeg70,
    "resize50": _half,
    "crop<=5%": _crop5,
    "strip-metadata": _strip_metadata,
    "crop+resize+jpeg": _everything,
}


@pytest.fixture(scope="module")
def ads() -> list[Image.Image]:
    """50 indexed 1080x1080 variants: one brand palette, one layout, different seeds and headlines."""
    return [synthetic_ad(1000 + i) for i in range(N_INDEXED)]


@pytest.fixture(scope="module")
def index(ads: list[Image.Image]) -> FingerprintIndex:
    idx = FingerprintIndex()
    for i, img in enumerate(ads):
        idx.add_fingerprints(i, registration_fingerprints(png_bytes(img)))
    return idx


def _report(name: str, values: list[int]) -> str:
    arr = np.asarray(values)
    p95 = np.percentile(arr, 95)
    return f"{name}: min {arr.min()} median {np.median(arr):.0f} p95 {p95:.0f} max {arr.max()}"


@pytest.mark.parametrize("kind", list(TRANSFORMS))
def test_transformed_copies_match_their_original(
    kind: str, ads: list[Image.Image], index: FingerprintIndex
) -> None:
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    pd: list[int] = []
    dd: list[int] = []
    for i, img in enumerate(ads):
        query = fingerprint(TRANSFORMS[kind](img, rng))
        match = index.nearest(query)
        assert match is not None, f"{kind}: ad {i} not found"
        assert match.id == i, f"{kind}: ad {i} matched ad {match.id}"
        assert 0.0 < match.score <= 1.0
        pd.append(match.phash_distance)
        dd.append(match.dhash_distance)
    print(_report(f"{kind} pHash", pd), "|", _report("dHash", dd))
    assert max(pd) <= PHASH_MAX_DISTANCE and max(dd) <= DHASH_MAX_DISTANCE


def test_unindexed_variants_are_not_matched(ads: list[Image.Image], index: FingerprintIndex) -> None:
    """Hard negatives: 50 more variants, same palette and layout, never indexed."""
    nearest_p: list[int] = []
    nearest_sum: list[int] = []
    for seed in range(5000, 5000 + 50):
        img = synthetic_ad(seed)
        query = fingerprint(png_bytes(img))
        assert index.nearest(query) is None, f"variant {seed} falsely matched"
        # the same variant after a JPEG round trip must not match either
        assert index.nearest(fingerprint(_encode(img, "JPEG", quality=70))) is None
        wide = index.matches(query, 32, max_dhash_distance=64, max_combined=128)
        nearest_p.append(min(m.phash_distance for m in wide))
        nearest_sum.append(min(m.phash_distance + m.dhash_distance for m in wide))
    print(_report("negatives nearest pHash", nearest_p), "|", _report("nearest pHash+dHash", nearest_sum))
    assert min(nearest_p) >= PHASH_MAX_DISTANCE or min(nearest_sum) > COMBINED_MAX_DISTANCE


def test_indexed_variants_do_not_match_each_other(ads: list[Image.Image]) -> None:
    fps = [fingerprint_image(img) for img in ads]
    pairs = [(a.phash_distance(b), a.dhash_distance(b)) for a, b in itertools.combinations(fps, 2)]
    p = [x for x, _ in pairs]
    s = [x + y for x, y in pairs]
    print(_report("pairwise pHash", p), "|", _report("pairwise pHash+dHash", s))
    for pd, dd in pairs:
        assert not (
            pd <= PHASH_MAX_DISTANCE and dd <= DHASH_MAX_DISTANCE and pd + dd <= COMBINED_MAX_DISTANCE
        )


def test_thumbnail_sizes_are_handled() -> None:
    fp = fingerprint(_encode(synthetic_ad(2, size=64)))
    assert fp.phash_distance(fingerprint(_encode(synthetic_ad(2, size=1080)))) <= 6
    with pytest.raises(VerifyError):
        fingerprint(_encode(Image.new("RGB", (1, 1))))


def _pillow_view(grey: Image.Image, box: tuple[int, int, int, int]) -> str:
    """One registration view hashed on its own by ``imagehash`` from thumbnails Pillow makes: the
    whole image's from the working copy, a crop's from the working copy box-reduced by about twice
    the thumbnail's size (the documented approximation, VIEW_REDUCING_GAP)."""
    import imagehash

    from mintloom.provenance.fingerprint import VIEW_REDUCING_GAP

    lanczos = Image.Resampling.LANCZOS
    thumbnails = []
    for size in ((32, 32), (9, 8)):
        if box == (0, 0, *grey.size):
            thumbnails.append(grey.resize(size, lanczos))
            continue
        fx = max(1, int(grey.width / size[0] / VIEW_REDUCING_GAP))
        fy = max(1, int(grey.height / size[1] / VIEW_REDUCING_GAP))
        reduced = grey.reduce((fx, fy)) if (fx, fy) != (1, 1) else grey
        scaled = (box[0] / fx, box[1] / fy, min(box[2] / fx, reduced.width), min(box[3] / fy, reduced.height))
        thumbnails.append(reduced.resize(size, lanczos, box=scaled))
    return f"{imagehash.phash(thumbnails[0])}{imagehash.dhash(thumbnails[1])}"


@pytest.mark.parametrize(
    "size", [(1080, 1080), (1920, 1080), (1080, 1920), (160, 600), (300, 250), (728, 90), (100, 5), (2, 2)]
)
def test_registration_views_are_each_view_hashed_alone_by_imagehash(size: tuple[int, int]) -> None:
    """The eleven views share their resampling weights, matrix products and one DCT call: the
    hashes are those ``imagehash`` gives each view's Pillow thumbnails, and the whole image's view
    is exactly the query's fingerprint."""
    from mintloom.provenance.fingerprint import _boxes, _working_copy

    img = synthetic_ad(7).resize(size)
    views = registration_fingerprints(png_bytes(img))
    grey = _working_copy(img).convert("L")
    assert [v.hex() for v in views] == [_pillow_view(grey, box) for box in _boxes(grey.size)]
    assert len(views) == 11 and views[0] == fingerprint_image(img)


boxes = st.tuples(*[st.floats(0.0, 1.0)] * 4)


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1, 300), st.integers(1, 300)),
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
    boxes,
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_resampling_is_pillows_lanczos_bit_for_bit(
    source: tuple[int, int],
    size: tuple[int, int],
    box: tuple[float, float, float, float],
    whole_pixels: bool,
    seed: int,
) -> None:
    """The thumbnails come from matrix products with Pillow's own fixed-point LANCZOS weights, in
    Pillow 13's pass order: they are Pillow's pixels for any source, size and box (fractional or
    whole-pixel, including the boxes Pillow crops instead of resampling)."""
    from mintloom.provenance.fingerprint import _pixels, _resampler

    w, h = source
    x0, x1 = sorted((box[0] * w, box[2] * w))
    y0, y1 = sorted((box[1] * h, box[3] * h))
    if whole_pixels:  # on whole pixels, and half of them the output's size: Pillow crops those
        x0, y0 = float(round(x0)), float(round(y0))
        x1, y1 = (x0 + size[0], y0 + size[1]) if seed % 2 else (float(round(x1)), float(round(y1)))
    assume(x0 < x1 <= w and y0 < y1 <= h)
    grey = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8))
    expected = np.asarray(grey.resize(size, Image.Resampling.LANCZOS, box=(x0, y0, x1, y1)))
    got = _resampler(source, size, ((x0, y0, x1, y1),))(_pixels(grey))
    assert got.shape == (1, size[1], size[0]) and np.array_equal(got[0], expected)
