"""Training opt-outs a file carries, read at dataset ingestion.

Two machine-readable signals are honoured, both conservatively (a signal is honoured even when
the credential carrying it does not validate: an opt-out is never overridden by a bad signature):

* the C2PA/CAWG ``training-mining`` assertion (``cawg.training-mining``, and the older
  ``c2pa.training-mining``) of the active manifest, read with c2pa-python: an AI-training or
  data-mining entry whose ``use`` is ``notAllowed`` excludes the file, and so does ``constrained``
  (mintloom holds no permission record to satisfy a constraint);
* IPTC/PLUS ``plus:DataMining`` in the file's XMP packet: any ``DMI-PROHIBITED*`` value
  (prohibited, prohibited for AI/ML or generative AI/ML training, prohibited except search-engine
  indexing, prohibited see constraint).

Scanning every file with c2pa would be slow, so :func:`markers` looks for the byte signatures
first (a JUMBF ``c2pa`` label, an XMP packet naming ``DataMining``); only a file carrying one is
read whole. An XMP packet compressed inside a PNG ``iTXt`` chunk is not seen (a known limit).
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import c2pa

C2PA_MARKER = b"c2pa"
XMP_MARKER = b"DataMining"
MARKER_OVERLAP = max(len(C2PA_MARKER), len(XMP_MARKER)) - 1
TRAINING_LABELS = frozenset({"cawg.training-mining", "c2pa.training-mining"})
TRAINING_USES = ("ai_training", "ai_generative_training", "data_mining")
PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMP_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_C2PA_FORMATS = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "gif": "image/gif", "tif": "image/tiff", "tiff": "image/tiff", "heic": "image/heic",
    "avif": "image/avif", "svg": "image/svg+xml", "mp4": "video/mp4", "mov": "video/quicktime",
    "wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "pdf": "application/pdf",
}  # fmt: skip


@dataclass(frozen=True)
class OptOut:
    """Why a file must not be ingested."""

    reason: str
    """``c2pa-training-notAllowed``, ``c2pa-training-constrained`` or ``xmp-data-mining-prohibited``"""
    detail: str


@dataclass(frozen=True)
class Markers:
    c2pa: bool = False
    xmp: bool = False

    @property
    def any(self) -> bool:
        return self.c2pa or self.xmp

    def __or__(self, other: Markers) -> Markers:
        return Markers(self.c2pa or other.c2pa, self.xmp or other.xmp)


def markers(window: bytes) -> Markers:
    """Which opt-out carriers a run of the file's bytes may hold (cheap byte search)."""
    return Markers(C2PA_MARKER in window, XMP_MARKER in window)


def opt_out_of(data: bytes, suffix: str, found: Markers) -> OptOut | None:
    """The opt-out ``data`` carries, if any (only the carriers ``found`` hinted at are parsed)."""
    if found.c2pa:
        hit = c2pa_opt_out(data, suffix)
        if hit is not None:
            return hit
    return xmp_opt_out(data) if found.xmp else None


def c2pa_opt_out(data: bytes, suffix: str) -> OptOut | None:
    """The CAWG training-mining verdict of the active manifest (None: no manifest or no refusal)."""
    fmt = _C2PA_FORMATS.get(suffix.lower().lstrip("."))
    if fmt is None:
        return None
    try:
        reader = c2pa.Reader.try_create(fmt, io.BytesIO(data))
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except (c2pa.C2paError, ValueError) as exc:
        del exc  # an unreadable credential carries no readable opt-out
        return None
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    return _training_verdict(active.get("assertions", []))


def _training_verdict(assertions: list[Any]) -> OptOut | None:
    for assertion in assertions:
        if not isinstance(assertion, dict) or assertion.get("label") not in TRAINING_LABELS:
            continue
        entries = (assertion.get("data") or {}).get("entries") or {}
        for key, value in sorted(entries.items()):
            use = value.get("use") if isinstance(value, dict) else None
            if not key.endswith(TRAINING_USES) or use not in ("notAllowed", "constrained"):
                continue
            extra = f" ({value['constraint_info']})" if value.get("constraint_info") else ""
            return OptOut(f"c2pa-training-{use}", f"{assertion['label']}: {key} is {use}{extra}")
    return None


def xmp_opt_out(data: bytes) -> OptOut | None:
    """``plus:DataMining`` prohibiting mining in an XMP packet of ``data`` (None: no such packet)."""
    for packet in _XMP_PACKET.finditer(data):
        value = _data_mining(packet.group(0))
        if value is not None and "DMI-PROHIBITED" in value.upper():
            return OptOut("xmp-data-mining-prohibited", f"plus:DataMining is {value}")
    return None


def _data_mining(packet: bytes) -> str | None:
    """The plus:DataMining value of one packet (element text, rdf:resource or attribute form)."""
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return None  # no entity expansion (billion laughs): XMP never needs a DTD
    try:
        root = ET.fromstring(packet)
    except ET.ParseError:
        return None
    tag = f"{{{PLUS_NS}}}DataMining"
    for el in root.iter():
        if tag in el.attrib:
            return el.attrib[tag]
        if el.tag == tag:
            return el.attrib.get(f"{{{RDF_NS}}}resource") or (el.text or "").strip()
    return None
