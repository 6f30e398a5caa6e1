"""A re-signed or retouched copy of a parent earns no UGC reward; a real remix passes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mintloom.errors import NearCopyError
from mintloom.governance.ugc import NEAR_COPY_PHASH, check_remix


def _png(img: Image.Image, **options: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **options)
    return out.getvalue()


@pytest.fixture
def parent() -> Image.Image:
    noise = np.random.default_rng(7).random((64, 64, 3)) * 255
    return Image.fromarray(noise.astype("uint8")).resize((512, 512), Image.Resampling.BICUBIC)


def test_a_reencoded_copy_is_refused(parent: Image.Image) -> None:
    original, copy = _png(parent), _png(parent, compress_level=1)
    assert original != copy  # other bytes, so another CID on chain
    with pytest.raises(NearCopyError, match="parent picture again"):
        check_remix(original, copy)


def test_a_slightly_retouched_copy_is_refused(parent: Image.Image) -> None:
    brighter = Image.eval(parent, lambda v: min(255, v + 6))
    with pytest.raises(NearCopyError):
        check_remix(_png(parent), _png(brighter))


def test_a_real_remix_passes(parent: Image.Image) -> None:
    remix = Image.new("RGB", (512, 512), (20, 90, 200))
    remix.paste(parent.resize((256, 256)), (0, 0))
    ImageDraw.Draw(remix).rectangle((260, 300, 500, 500), fill=(250, 220, 0))
    distance = check_remix(_png(parent), _png(remix))
    assert distance.phash > NEAR_COPY_PHASH
