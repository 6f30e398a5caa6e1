"""Hostile files for tests, made without ever holding their decoded pixels in memory."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, *, alpha: bool = True) -> bytes:
    """A valid, all-transparent RGBA PNG (all-black RGB without ``alpha``) of ``width`` x ``height``:
    a few hundred KB on disk, ``4 * width * height`` bytes once decoded (``3 *`` for RGB; 9400² RGBA is
    344 KB and 353 MB)."""
    channels = 4 if alpha else 3
    z = zlib.compressobj(9)
    row = b"\x00" * (1 + channels * width)  # filter byte 0, then the pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB. Unlike ``ru_maxrss``, it is not
    inherited from the parent a subprocess was forked from (Linux carries that over exec)."""
    with open("/proc/self/status", encoding="ascii") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return kb / 1024


def lying_png(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but whose IDAT holds a single row: a few
    hundred bytes that a decoder sizes its buffer from before it finds the data missing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def lying_jpeg(width: int, height: int) -> bytes:
    """A small baseline JPEG whose SOF0 frame header is patched to claim ``width`` x ``height``."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 90)).save(out, "JPEG", quality=80)
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def lying_webp(width: int, height: int) -> bytes:
    """A small lossless WebP whose VP8L header is patched to claim ``width`` x ``height`` (≤ 16384)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (20, 140, 90)).save(out, "WEBP", lossless=True)
    data = bytearray(out.getvalue())
    at = data.index(b"VP8L") + 8  # chunk tag, chunk size, then the 0x2f signature
    assert data[at] == 0x2F, "Pillow wrote a WebP without a plain VP8L chunk"
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[at + 1 : at + 5] = bits.to_bytes(4, "little")
    return bytes(data)


def tiff_bomb(width: int, height: int) -> bytes:
    """A valid, all-black RGB TIFF of ``width`` x ``height`` in one Deflate strip: a few tens of KB
    on disk, ``3 * width * height`` bytes once decoded (4000² is 48 MB): a format other than PNG,
    JPEG and WebP, whose decoder a foreign ingredient thumbnail must not reach."""
    z = zlib.compressobj(9)
    row = b"\x00" * (3 * width)
    strip = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    count = 10  # the IFD's entries; BitsPerSample's three SHORTs, then the strip, follow it
    bits_at = 8 + 2 + 12 * count + 4
    strip_at = bits_at + 6
    shorts = {258: bits_at, 259: 8, 262: 2, 277: 3, 284: 1}  # 258 is an offset (three values)
    longs = {256: width, 257: height, 273: strip_at, 278: height, 279: len(strip)}
    entries = [
        struct.pack("<HHI", tag, 3, 3 if tag == 258 else 1)
        + (struct.pack("<I", shorts[tag]) if tag == 258 else struct.pack("<HH", shorts[tag], 0))
        if tag in shorts
        else struct.pack("<HHII", tag, 4, 1, longs[tag])
        for tag in sorted({**shorts, **longs})
    ]  # TIFF: the entries sorted by tag; a SHORT value sits left-justified in its 4 bytes
    assert len(entries) == count
    ifd = struct.pack("<H", count) + b"".join(entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<HHH", 8, 8, 8) + strip
