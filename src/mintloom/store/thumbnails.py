"""Gallery thumbnails: made once per image asset when it is written, kept as their own
content-addressed blobs.

The ``thumbnails`` table maps an asset to the CID of its thumbnail (a JPEG at most
:data:`THUMB_EDGE` pixels on its longer edge). A campaign run writes them with its assets
(:func:`make_thumbnail`, in the batch's transaction); a reader (the studio's GET) serves the stored
one, or makes one in memory for an asset written without (older workspaces, other writers), and
stores nothing: a read path never writes. :meth:`Thumbnails.ensure` is the writers' backfill.
"""

from __future__ import annotations

import io
import math

from PIL import Image, UnidentifiedImageError
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import BlobCorruptedError
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow
from mintloom.store.cid import cid_for
from mintloom.store.db import Base, Database

THUMB_EDGE = 320
REDUCING_GAP = 1.0
"""Scaling first boxes the image down by the largest whole factor that keeps it at least the
thumbnail's size (1080 -> 360 for 320), then resamples the rest bicubically (360 -> 320): PIL's
``reducing_gap``, whose default 2.0 runs the bicubic filter over the full image (1080 -> 320, about
three times the work). The two differ by less than the JPEG's own loss (on the demo ads, PSNR
>= 32 dB between them; the quality-82 JPEG is 29-32 dB from its source)."""
MAX_SOURCE_PIXELS = 64_000_000
"""A catalog image larger than this is not decoded for a thumbnail (the gallery shows none)."""


class ThumbnailRow(Base):
    """The cached thumbnail of one image asset."""

    __tablename__ = "thumbnails"
    cid: Mapped[str] = mapped_column(ForeignKey("assets.cid"), primary_key=True)
    thumb_cid: Mapped[str] = mapped_column(String(80))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


def render_thumbnail(data: bytes, edge: int = THUMB_EDGE) -> bytes | None:
    """A JPEG thumbnail of an image's bytes, None if they are not a decodable image of sane size."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_SOURCE_PIXELS:
                return None
            img.thumbnail((edge, edge), reducing_gap=REDUCING_GAP)  # in place, a JPEG drafted at 1/2..1/8
            return _jpeg(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def thumbnail_of(img: Image.Image, edge: int = THUMB_EDGE) -> bytes:
    """The JPEG thumbnail of decoded pixels (a campaign worker's, straight from the engine: the
    pixels of the signed file, whose metadata does not change them). The same pixels as
    :func:`render_thumbnail` of their PNG; ``resize`` makes a new image, so the caller's stay whole."""
    size = fitted_size(img.width, img.height, edge)
    if size == img.size:
        return _jpeg(img)
    return _jpeg(img.resize(size, Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP))


def fitted_size(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size ``Image.thumbnail((edge, edge))`` gives a ``width`` x ``height`` image: the aspect
    kept, each side rounded to the nearer aspect, at least 1; unchanged when it fits already."""
    if edge >= width and edge >= height:
        return width, height
    aspect = width / height
    if aspect <= 1:  # edge / edge >= aspect: the height is the edge
        w = min(math.floor(edge * aspect), math.ceil(edge * aspect), key=lambda n: abs(aspect - n / edge))
        return max(w, 1), edge
    h = min(
        math.floor(edge / aspect), math.ceil(edge / aspect), key=lambda n: abs(aspect - edge / n) if n else 0
    )
    return edge, max(h, 1)


def _jpeg(small: Image.Image) -> bytes:
    out = io.BytesIO()
    (small if small.mode == "RGB" else small.convert("RGB")).save(out, format="JPEG", quality=82)
    return out.getvalue()


def thumbnailable(media_type: str) -> bool:
    """Raster images only (an SVG is drawn by the browser, text and audio have no thumbnail)."""
    return media_type.startswith("image/") and media_type != "image/svg+xml"


def make_thumbnail(
    cid: str, media_type: str, data: bytes, made: bytes | None = None
) -> tuple[bytes, ThumbnailRow] | None:
    """An asset's thumbnail bytes (``made`` by a worker, else decoded from ``data``) and the row
    naming them (the caller stores both), or None."""
    thumb = made if made is not None else render_thumbnail(data) if thumbnailable(media_type) else None
    if thumb is None:
        return None
    with Image.open(io.BytesIO(thumb)) as img:
        width, height = img.size
    return thumb, ThumbnailRow(cid=cid, thumb_cid=cid_for(thumb), width=width, height=height)


class Thumbnails:
    """Thumbnails of catalog assets: :meth:`read` for readers, :meth:`ensure` for writers."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def cached(self, cid: str) -> str | None:
        """The thumbnail CID recorded for ``cid`` whose blob is present, else None."""
        with self.db.session() as s:
            row = s.get(ThumbnailRow, cid)
            thumb = None if row is None else row.thumb_cid
        return thumb if thumb is not None and self.blobs.has(thumb) else None

    def read(self, asset: AssetRow) -> bytes | None:
        """``asset``'s thumbnail: the stored one, else one made in memory (never stored here)."""
        if not thumbnailable(asset.media_type):
            return None
        try:
            known = self.cached(asset.cid)
            return self.blobs.get(known) if known is not None else render_thumbnail(self.blobs.get(asset.cid))
        except BlobCorruptedError:
            return None

    def ensure(self, asset: AssetRow) -> str | None:
        """The CID of ``asset``'s thumbnail, made and recorded if it has none (a writer's backfill)."""
        known = self.cached(asset.cid)
        if known is not None or not thumbnailable(asset.media_type):
            return known
        try:
            made = make_thumbnail(asset.cid, asset.media_type, self.blobs.get(asset.cid))
        except BlobCorruptedError:
            return None
        if made is None:
            return None
        self.blobs.put(made[0])
        with self.db.session() as s:
            s.merge(made[1])
        return made[1].thumb_cid
