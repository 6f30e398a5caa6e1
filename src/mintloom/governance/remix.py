"""A fan's remix of a signed campaign asset: composed, signed by the fan, logged in the fan's log.

The child's C2PA manifest names the parent as its ``parentOf`` ingredient (the parent's own signed
manifest goes in with it, so a verifier sees the brand's credential inside the fan's), and is
signed with the fan's workspace keys: the chain of organisations is fan → brand. The child is then
appended to the fan's transparency log and anchored on the fan's chain. Its leaf commits to the
child's CID, manifest and parent's CID, also when the parent lives in another organisation's log:
that is what ``UGCRewards.submitFromLog`` proves the child against. A remix that
is the parent picture again is refused before anything is signed (``governance.ugc.check_remix``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageOps

from mintloom import __version__
from mintloom.errors import GovernanceError, UnsignedParentError
from mintloom.governance.ugc import RemixDistance, check_remix
from mintloom.provenance.content_credentials import C2paAssetSigner, read_credentials
from mintloom.provenance.credentials import DigitalSourceType, GenerationRecord, Parent
from mintloom.provenance.log import TransparencyLog
from mintloom.store.cid import cid_for

Template = Literal["frame", "split", "poster"]
TEMPLATES: tuple[Template, ...] = ("frame", "split", "poster")
MAX_SIDE = 4096


@dataclass(frozen=True)
class Remix:
    """The signed child, its CID and log leaf, and how far it is from its parent."""

    data: bytes
    cid: str
    parent_cid: str
    leaf_index: int
    distance: RemixDistance


def _frame(img: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The parent shrunk into a coloured frame with a band below."""
    w, h = img.size
    out = Image.new("RGB", (w, h), colour)
    out.paste(img.resize((w * 2 // 3, h * 2 // 3)), (w // 6, h // 12))
    ImageDraw.Draw(out).rectangle((w // 6, h * 5 // 6, w * 5 // 6, h * 11 // 12), fill=(250, 250, 250))
    return out


def _split(img: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The parent's left half beside a mirrored, tinted copy of it."""
    w, h = img.size
    half = img.crop((0, 0, w // 2, h))
    tinted = Image.blend(ImageOps.mirror(half), Image.new("RGB", half.size, colour), 0.55)
    out = img.copy()
    out.paste(tinted, (w - tinted.width, 0))
    return out


def _poster(img: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The parent posterised in the corner of a poster of bold stripes."""
    w, h = img.size
    out = Image.new("RGB", (w, h), colour)
    draw = ImageDraw.Draw(out)
    for i in range(0, w, max(1, w // 8)):
        draw.rectangle((i, 0, i + w // 16, h), fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
    out.paste(ImageOps.posterize(img, 2).resize((w // 2, h // 2)), (w // 2, h // 2))
    return out


_COMPOSE: dict[str, Callable[[Image.Image, tuple[int, int, int]], Image.Image]] = {
    "frame": _frame,
    "split": _split,
    "poster": _poster,
}


def compose(parent: bytes, template: str, colour: tuple[int, int, int] = (236, 72, 153)) -> bytes:
    """The remixed picture as PNG bytes (no credential yet)."""
    if template not in _COMPOSE:
        raise GovernanceError(
            f"unknown remix template {template!r}", hint=f"use one of {', '.join(TEMPLATES)}"
        )
    try:
        img = Image.open(io.BytesIO(parent))
        if max(img.size) > MAX_SIDE:
            raise GovernanceError(f"the parent is {img.size[0]}×{img.size[1]}, over {MAX_SIDE} px a side")
        rgb = img.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise GovernanceError(f"the parent is not an image mintloom can read: {exc}") from exc
    out = io.BytesIO()
    _COMPOSE[template](rgb, colour).save(out, "PNG")
    return out.getvalue()


def image_media_type(data: bytes, what: str, error: type[GovernanceError]) -> str:
    """The media type of ``data``, a PNG, JPEG or WebP image (what remixes and their parents
    are); else ``error`` naming ``what`` (the parent, the child)."""
    try:
        fmt = Image.open(io.BytesIO(data)).format
    except (OSError, Image.DecompressionBombError) as exc:
        raise error(f"the {what} is not an image mintloom can read: {exc}") from exc
    if fmt not in {"PNG", "JPEG", "WEBP"}:
        raise error(f"the {what} is a {fmt} image", hint="remixes and their parents are PNG, JPEG or WebP")
    return f"image/{fmt.lower()}"


def remix(
    parent: bytes,
    template: str,
    *,
    signer: C2paAssetSigner,
    log: TransparencyLog,
    title: str,
    parent_title: str = "parent",
    creator: str | None = None,
) -> Remix:
    """Compose, refuse a near-copy, sign (parent as ``parentOf``) and log the child. ``creator``:
    the chain account the signed credential names as the remix's creator, the only one a UGC
    attester attests it for (so a copier who logs the same child elsewhere earns nothing)."""
    media_type = image_media_type(parent, "parent", GovernanceError)
    if not read_credentials(parent, media_type).present:
        raise UnsignedParentError(
            "the parent carries no Content Credential", hint="remix a signed campaign asset"
        )
    composed = compose(parent, template)
    distance = check_remix(parent, composed)
    record = GenerationRecord(
        engine="mintloom-remix",
        engine_version=__version__,
        campaign="remix",
        segment_commitment=hashlib.sha256(f"remix:{template}".encode()).hexdigest(),
        locale="und",
        format=template,
        action="c2pa.edited",
        source_type=DigitalSourceType.COMPOSITE_WITH_TRAINED,
        creator_account=creator,
    )
    signed = signer.sign(
        composed, "image/png", record, title=title, parent=Parent(parent, media_type, parent_title)
    )
    cid, parent_cid = str(cid_for(signed.data)), str(cid_for(parent))
    # the leaf commits to the parent, in this log (one organisation) or another's (fan → brand)
    link = {cid: parent_cid}
    if log.index_of(parent_cid) is not None:
        [index] = log.append_batch([(cid, signed.manifest_hash)], parents=link)
    else:
        [index] = log.append_batch([(cid, signed.manifest_hash)], external_parents=link)
    return Remix(signed.data, cid, parent_cid, index, distance)
