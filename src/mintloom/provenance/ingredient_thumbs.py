"""Thumbnails that C2PA ingredients carry (``c2pa.thumbnail.ingredient…``), read from the asset's own
manifest in memory: nothing is written, so the asset page may call this on every GET.

A thumbnail is a foreign resource (any signer's file can name any bytes): it is copied out of the
manifest through a stream that refuses more than :data:`MAX_THUMB_BYTES`, its format and pixel count are
checked in the header before decoding, and it is served only re-encoded as a
small JPEG (:func:`mintloom.store.thumbnails.render_thumbnail`), never as the bytes it came as.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import c2pa
from PIL import Image, UnidentifiedImageError

from mintloom.store.thumbnails import render_thumbnail

MAX_THUMB_BYTES = 4 * 1024 * 1024
"""A resource larger than this is not copied out (real ingredient thumbnails are tens of KiB)."""
MAX_THUMB_PIXELS = 4096 * 4096
"""A thumbnail whose header claims more is not decoded (a bomb compresses 40 MP into 150 KB)."""
THUMB_FORMATS = ("PNG", "JPEG", "WEBP")
"""The only decoders a foreign thumbnail reaches (not every format Pillow can parse)."""
EMBEDDED = frozenset({"image/png", "image/jpeg", "image/webp"})
"""Media types whose manifest (and its thumbnails) is embedded in the file itself."""


@dataclass(frozen=True)
class Ingredient:
    """One ingredient of the active manifest, in manifest order."""

    index: int
    title: str
    relationship: str
    thumbnail: str | None
    """The resource identifier of its thumbnail (a JUMBF URI), if it carries one."""


class _Bounded(io.RawIOBase):
    """A write-only buffer that refuses to grow past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.buffer = bytearray()
        self.limit = limit
        self.overflow = False

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        if len(self.buffer) + len(data) > self.limit:
            self.overflow = True
            raise OSError("resource over the thumbnail bound")
        self.buffer += data
        return len(data)


def _reader(data: bytes, media_type: str) -> c2pa.Reader | None:
    if media_type not in EMBEDDED:
        return None
    try:
        return c2pa.Reader.try_create(media_type, io.BytesIO(data))
    except c2pa.C2paError:
        return None


def ingredients(data: bytes, media_type: str) -> list[Ingredient]:
    """The active manifest's ingredients with their thumbnail identifiers ([] without a manifest)."""
    reader = _reader(data, media_type)
    if reader is None:
        return []
    with reader:
        store = json.loads(reader.json())
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    return [
        _ingredient(i, ing) for i, ing in enumerate(active.get("ingredients", [])) if isinstance(ing, dict)
    ]


def _ingredient(index: int, ing: dict[str, Any]) -> Ingredient:
    thumb = ing.get("thumbnail")
    ident = thumb.get("identifier") if isinstance(thumb, dict) else None
    title, rel = str(ing.get("title") or "untitled"), str(ing.get("relationship") or "?")
    return Ingredient(index, title, rel, ident if isinstance(ident, str) else None)


def ingredient_thumbnail(data: bytes, media_type: str, index: int) -> bytes | None:
    """Ingredient ``index``'s thumbnail as a small JPEG, or None (no such ingredient or thumbnail,
    over the byte or pixel bound, or not a decodable image)."""
    found = [i for i in ingredients(data, media_type) if i.index == index and i.thumbnail]
    reader = _reader(data, media_type) if found else None
    if reader is None or found[0].thumbnail is None:
        return None
    sink = _Bounded(MAX_THUMB_BYTES)
    with reader:
        try:
            reader.resource_to_stream(found[0].thumbnail, sink)
        except (c2pa.C2paError, OSError):
            return None
    if sink.overflow or not within_pixels(bytes(sink.buffer)):
        return None
    return render_thumbnail(bytes(sink.buffer))


def within_pixels(raw: bytes) -> bool:
    """A PNG, JPEG or WebP whose header's size is within :data:`MAX_THUMB_PIXELS` (nothing is
    decoded to learn it)."""
    try:
        with Image.open(io.BytesIO(raw), formats=THUMB_FORMATS) as img:
            return bool(img.width * img.height <= MAX_THUMB_PIXELS)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False
