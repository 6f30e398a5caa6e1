"""Hostile files for tests, made without ever holding their decoded pixels in memory."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid, all-transparent RGBA PNG of ``width`` x ``height``: a few hundred KB on disk,
    ``4 * width * height`` bytes once decoded (9400² is 344 KB and 353 MB)."""
    z = zlib.compressobj(9)
    row = b"\x00" * (1 + 4 * width)  # filter byte 0, then the pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB. Unlike ``ru_maxrss``, it is not
    inherited from the parent a subprocess was forked from (Linux carries that over exec)."""
    with open("/proc/self/status", encoding="ascii") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return kb / 1024
