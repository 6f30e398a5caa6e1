"""Gallery thumbnails: made once per image asset, kept as their own content-addressed blobs.

The ``thumbnails`` table maps an asset to the CID of its thumbnail (a JPEG at most
:data:`THUMB_EDGE` pixels on its longer edge). A second request finds the row and the blob and
makes nothing; two concurrent first requests make the same bytes, so the same CID.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import BlobCorruptedError
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Base, Database

THUMB_EDGE = 320
MAX_SOURCE_PIXELS = 64_000_000
"""A catalog image larger than this is not decoded for a thumbnail (the gallery shows none)."""


class ThumbnailRow(Base):
    """The cached thumbnail of one image asset."""

    __tablename__ = "thumbnails"
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    thumb_cid: Mapped[str] = mapped_column(String(80))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


def render_thumbnail(data: bytes) -> bytes | None:
    """A JPEG thumbnail of an image's bytes, None if they are not a decodable image of sane size."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_SOURCE_PIXELS:
                return None
            img.thumbnail((THUMB_EDGE, THUMB_EDGE))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="JPEG", quality=82)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


class Thumbnails:
    """Thumbnails of catalog assets, made on first request and reused afterwards."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def cached(self, cid: str) -> str | None:
        """The thumbnail CID recorded for ``cid`` whose blob is present, else None."""
        with self.db.session() as s:
            row = s.get(ThumbnailRow, cid)
            thumb = None if row is None else row.thumb_cid
        return thumb if thumb is not None and self.blobs.has(thumb) else None

    def ensure(self, asset: AssetRow) -> str | None:
        """The CID of ``asset``'s thumbnail, made and recorded if it has none (images only)."""
        if not asset.media_type.startswith("image/") or asset.media_type == "image/svg+xml":
            return None
        known = self.cached(asset.cid)
        if known is not None:
            return known
        try:
            thumb = render_thumbnail(self.blobs.get(asset.cid))
        except BlobCorruptedError:
            return None
        if thumb is None:
            return None
        thumb_cid = self.blobs.put(thumb)
        with Image.open(io.BytesIO(thumb)) as img:
            width, height = img.size
        with self.db.session() as s:
            s.merge(ThumbnailRow(cid=asset.cid, thumb_cid=thumb_cid, width=width, height=height))
        return thumb_cid
