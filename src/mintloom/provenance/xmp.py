"""IPTC photo metadata as XMP, embedded in PNG, JPEG, WebP and WAV files *before* they are signed.

The C2PA hard binding hashes the whole file except the manifest store, so metadata embedded
first is covered by the signature: changing the alt text or the rights statement afterwards
makes the asset TAMPERED. The packet carries the IPTC digital source type, the alt text per
locale (``dc:description`` as an ``rdf:Alt`` with ``xml:lang``), the rights statement and the
URL of the licence terms, the licensor and the credit line — never an audience value (the
caller hands in alt text made from the template copy when the copy is personalised).

Text gets no XMP: a plain-text file has no XMP container, and a sidecar ``.xmp`` would sit outside
the signed bytes (its C2PA text wrapper and the catalog carry the same facts). FLAC has no XMP
block that exiftool reads, so it is left as it is too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from mintloom.errors import MetadataEmbedError

XMP_PNG_KEYWORD = b"XML:com.adobe.xmp"
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_MAX_JPEG_SEGMENT = 65533


@dataclass(frozen=True)
class AssetMetadata:
    """What the XMP packet says about one asset."""

    source_type: str
    """The IPTC digital source type URI."""
    alt_text: Mapping[str, str] = field(default_factory=dict)
    """Locale (BCP 47) → alt text; the first entry is also the ``x-default``."""
    rights: str | None = None
    web_statement: str | None = None
    licensor: str | None = None
    licensor_url: str | None = None
    credit: str | None = None


def _alt(values: Mapping[str, str]) -> str:
    items = list(values.items())
    if not items:
        return ""
    lis = [f'<rdf:li xml:lang="x-default">{escape(items[0][1])}</rdf:li>']
    lis += [f"<rdf:li xml:lang={quoteattr(loc)}>{escape(text)}</rdf:li>" for loc, text in items]
    return "<rdf:Alt>" + "".join(lis) + "</rdf:Alt>"


def xmp_packet(meta: AssetMetadata) -> bytes:
    """The XMP packet (UTF-8) for ``meta``."""
    props = [f"<Iptc4xmpExt:DigitalSourceType>{escape(meta.source_type)}</Iptc4xmpExt:DigitalSourceType>"]
    if meta.alt_text:
        props.append(f"<dc:description>{_alt(meta.alt_text)}</dc:description>")
    if meta.rights:
        props.append(f"<dc:rights>{_alt({'x-default': meta.rights})}</dc:rights>")
    if meta.web_statement:
        props.append(f"<xmpRights:WebStatement>{escape(meta.web_statement)}</xmpRights:WebStatement>")
    if meta.licensor:
        url = f"<plus:LicensorURL>{escape(meta.licensor_url)}</plus:LicensorURL>" if meta.licensor_url else ""
        props.append(
            '<plus:Licensor><rdf:Seq><rdf:li rdf:parseType="Resource">'
            f"<plus:LicensorName>{escape(meta.licensor)}</plus:LicensorName>{url}"
            "</rdf:li></rdf:Seq></plus:Licensor>"
        )
    if meta.credit:
        props.append(f"<photoshop:Credit>{escape(meta.credit)}</photoshop:Credit>")
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"'
        ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        + "".join(props)
        + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    return body.encode("utf-8")


WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/vnd.wave"})


def embeds_xmp(media_type: str) -> bool:
    """Whether the file type has a standard XMP container (FLAC and plain text have none here:
    their rights and source type are in the C2PA manifest and the catalog)."""
    return media_type in {"image/png", "image/jpeg", "image/webp"} | WAV_TYPES


def embed_xmp(data: bytes, media_type: str, packet: bytes) -> bytes:
    """``data`` with ``packet`` embedded (PNG iTXt, JPEG APP1, WebP ``XMP ``, WAV ``_PMX`` chunk)."""
    if media_type in WAV_TYPES:
        return _wav(data, packet)
    if media_type == "image/png":
        return _png(data, packet)
    if media_type == "image/jpeg":
        return _jpeg(data, packet)
    if media_type == "image/webp":
        return _webp(data, packet)
    raise MetadataEmbedError(f"cannot embed XMP in {media_type}")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(data: bytes, packet: bytes) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise MetadataEmbedError("not a PNG file")
    ihdr_end = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    # iTXt: keyword, NUL, compression flag 0, method 0, empty language tag and translated keyword
    itxt = _png_chunk(b"iTXt", XMP_PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + packet)
    return data[:ihdr_end] + itxt + data[ihdr_end:]


def _jpeg(data: bytes, packet: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise MetadataEmbedError("not a JPEG file")
    payload = XMP_JPEG_HEADER + packet
    if len(payload) + 2 > _MAX_JPEG_SEGMENT:
        raise MetadataEmbedError(f"XMP packet of {len(packet)} bytes does not fit one JPEG APP1 segment")
    pos = 2
    if data[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first
        pos = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:pos] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[pos:]


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def _webp(data: bytes, packet: bytes) -> bytes:
    """A simple (``VP8 ``/``VP8L``) WebP made extended: ``VP8X`` with the XMP flag, the image, ``XMP ``."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MetadataEmbedError("not a WebP file")
    kind, body = data[12:16], data[12:]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        width, height = w & 0x3FFF, h & 0x3FFF
    elif kind == b"VP8L":
        bits = struct.unpack("<I", data[21:25])[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise MetadataEmbedError(f"cannot add XMP to a WebP whose first chunk is {kind!r}")
    vp8x = struct.pack("<I", 0x04) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunks = _riff_chunk(b"VP8X", vp8x) + body + _riff_chunk(b"XMP ", packet)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _wav(data: bytes, packet: bytes) -> bytes:
    """A RIFF/WAVE file with a ``_PMX`` chunk (XMP, as Adobe and exiftool store it) appended."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise MetadataEmbedError("not a WAV file")
    size = struct.unpack("<I", data[4:8])[0]
    if size + 8 != len(data):
        raise MetadataEmbedError(f"WAV RIFF size {size} does not match the file ({len(data)} bytes)")
    body = data[12:] + _riff_chunk(b"_PMX", packet)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
