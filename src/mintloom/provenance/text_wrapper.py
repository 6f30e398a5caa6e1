"""C2PA manifests embedded in unstructured text (C2PA 2.2 "Embedding manifests into unstructured text").

The manifest store travels inside the text as a ``C2PATextManifestWrapper``: U+FEFF, then one
Unicode variation selector per byte of ``"C2PATXT\\0" | version (1) | length (u32 BE) | JUMBF``
(bytes 0-15 as U+FE00-U+FE0F, 16-255 as U+E0100-U+E01EF), appended to the text. The hard binding
is a ``c2pa.hash.data`` whose one exclusion is exactly the wrapper's UTF-8 byte range, so the
wrapper's length must be known before the manifest is signed: it is padded (extra selectors after
the manifest) to the worst-case length of a manifest of that size, as the reference
implementation (PyPI ``c2pa-text``) does.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from mintloom.errors import ManifestError

MAGIC = b"C2PATXT\x00"
VERSION = 1
_HEADER = struct.Struct("!8sBI")
_PREFIX = "\ufeff"
_WRAPPER_RE = re.compile(_PREFIX + f"([\ufe00-\ufe0f\U000e0100-\U000e01ef]{{{_HEADER.size},}})")


def _selector(byte: int) -> str:
    return chr(0xFE00 + byte) if byte < 16 else chr(0xE0100 + byte - 16)


MARK = (_PREFIX + "".join(_selector(b) for b in MAGIC)).encode()
"""The UTF-8 bytes every wrapper starts with (U+FEFF, then the magic's selectors)."""


def carries_wrapper(data: bytes) -> bool:
    """``data`` holds the start of a wrapper, even one cut short or in text damaged into non-UTF-8."""
    return MARK in data


def _byte(char: str) -> int:
    cp = ord(char)
    return cp - 0xFE00 if cp <= 0xFE0F else cp - 0xE0100 + 16


def wrapper_length(manifest_size: int) -> int:
    """UTF-8 length of the padded wrapper for a manifest of ``manifest_size`` bytes (worst case + 6,
    so that the gap is always a sum of 3- and 4-byte selectors)."""
    return 3 + (_HEADER.size + manifest_size) * 4 + 6


def encode(manifest: bytes) -> bytes:
    """The UTF-8 wrapper of ``manifest``, padded to exactly :func:`wrapper_length` bytes."""
    payload = _HEADER.pack(MAGIC, VERSION, len(manifest)) + manifest
    text = _PREFIX + "".join(_selector(b) for b in payload)
    gap = wrapper_length(len(manifest)) - len(text.encode())
    fours = next(b for b in range(gap // 4, -1, -1) if (gap - 4 * b) % 3 == 0)
    text += _selector(0) * ((gap - 4 * fours) // 3) + _selector(0xFF) * fours
    return text.encode()


@dataclass(frozen=True)
class Embedded:
    """A wrapper found in a text: its manifest store and its UTF-8 byte range."""

    manifest: bytes
    start: int
    length: int


def find(data: bytes) -> Embedded | None:
    """The one manifest wrapper in ``data``; None if there is none.

    Raises :class:`ManifestError` for text that is not UTF-8 but carries the wrapper's prefix, for a
    wrapper whose header or length is broken, and for more than one wrapper (C2PA forbids it).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _PREFIX.encode() in data:
            raise ManifestError("the text carries a C2PA wrapper but is not valid UTF-8") from exc
        return None
    found = list(_WRAPPER_RE.finditer(text))
    if not found:
        if carries_wrapper(data):  # the magic is there but not a whole header: cut short
            raise ManifestError("manifest.text.corruptedWrapper: the C2PA wrapper in the text is cut short")
        return None
    if len(found) > 1:
        raise ManifestError("manifest.text.multipleWrappers: more than one C2PA wrapper in the text")
    match = found[0]
    raw = bytes(_byte(c) for c in match.group(1))
    magic, version, size = _HEADER.unpack(raw[: _HEADER.size])
    if magic != MAGIC or version != VERSION or len(raw) < _HEADER.size + size:
        raise ManifestError("manifest.text.corruptedWrapper: the C2PA wrapper in the text is damaged")
    start = len(text[: match.start()].encode())
    return Embedded(raw[_HEADER.size : _HEADER.size + size], start, len(match.group(0).encode()))


def strip(data: bytes, found: Embedded) -> bytes:
    """``data`` without its wrapper: the bytes the hard binding covers."""
    return data[: found.start] + data[found.start + found.length :]
