"""Human-on-the-loop review: draw a stratified sample, show it, record signed decisions, gate publishing.

``draw`` picks, per group (template × locale × format family), ``size`` assets by a seeded hash
order, so the same seed and assets give the same sample. A decision is signed by the reviewer's
own key (:mod:`mintloom.provenance.review`) and written in one transaction with, for a rejection,
the design's next regeneration round (the planner reseeds the design by it on the next run).
With ``governance.require_review`` publishing takes only approved groups whose assets are the
ones approved, and refuses anything else by name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from mintloom.errors import ReviewError, ReviewRequiredError, StaleReviewError
from mintloom.faults import crash_point
from mintloom.provenance.keys import Signer
from mintloom.provenance.review import (
    Decision,
    Reviewer,
    ReviewRecord,
    SignedReview,
    check_fresh,
    check_review,
    fingerprint,
    sign_review,
    verified_decision,
)
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.db import Database
from mintloom.store.reviews import (
    ReviewDecisionRow,
    ReviewRoundRow,
    Reviews,
    ReviewSampleRow,
    design_of,
    members_digest,
)

TILE = 220
LABEL = 34


@dataclass(frozen=True)
class GroupSample:
    group: str
    round: int
    sample: list[str]
    members: int


def _order(seed: int, round_: int, group: str, cid: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{round_}\x00{group}\x00{cid}".encode()).digest()


def draw(db: Database, campaign: str, *, size: int, seed: int) -> list[GroupSample]:
    """Draw (and record) each group's sample; the same seed, round and assets give the same one."""
    reviews = Reviews(db)
    groups = reviews.groups(campaign)
    if not groups:
        raise ReviewError(f"campaign {campaign!r} has no exported assets to review", hint="run it first")
    rounds = reviews.rounds(campaign)
    out: list[GroupSample] = []
    with db.session() as s:
        for group, cids in groups.items():
            rnd = rounds.get(design_of(group), 0)
            picked = sorted(cids, key=lambda c, g=group, r=rnd: _order(seed, r, g, c))[:size]  # type: ignore[misc]
            row = ReviewSampleRow(
                campaign=campaign,
                group_id=group,
                round=rnd,
                seed=seed,
                sample=json.dumps(picked),
                members=members_digest(cids),
            )
            s.merge(row)
            out.append(GroupSample(group, rnd, picked, len(cids)))
    return out


def tile_label(group: str, cid: str) -> str:
    """A tile's label: the group (template, locale, family) and the CID's tail, nothing from the audience."""
    return f"{group}\n…{cid[-12:]}"


def _visible(text: str) -> str:
    """The text without the invisible characters of an embedded C2PA manifest (variation selectors)."""
    return "".join(c for c in text if c.isprintable() and not _selector(ord(c)))


def _selector(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or code >= 0xE0100


def _preview(data: bytes, media_type: str) -> Image.Image:
    tile = Image.new("RGB", (TILE, TILE), "white")
    if media_type.startswith("image/"):
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.thumbnail((TILE, TILE))
                tile.paste(img.convert("RGB"), ((TILE - img.width) // 2, (TILE - img.height) // 2))
        except (UnidentifiedImageError, OSError):
            ImageDraw.Draw(tile).text((8, 8), "(unreadable image)", fill="red")
    elif media_type.startswith("text/"):
        text = _visible(data.decode("utf-8", "replace"))[:400]
        lines = [text[i : i + 30] for i in range(0, len(text), 30)][:12]
        ImageDraw.Draw(tile).multiline_text((8, 8), "\n".join(lines), fill="black")
    else:
        ImageDraw.Draw(tile).text((8, 8), f"{media_type}\n(no preview)", fill="black")
    return tile


def contact_sheet(db: Database, blobs: BlobStore, samples: list[GroupSample], out: Path) -> list[str]:
    """Write a PNG grid of previews, one row per group, each tile labelled; returns the labels."""
    catalog = Catalog(db)
    cols = max((len(g.sample) for g in samples), default=1) or 1
    sheet = Image.new("RGB", (cols * TILE, len(samples) * (TILE + LABEL)), (235, 235, 235))
    draw_ = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    labels: list[str] = []
    for row, g in enumerate(samples):
        for col, cid in enumerate(g.sample):
            asset = catalog.asset(cid)
            media = asset.media_type if asset is not None else "application/octet-stream"
            x, y = col * TILE, row * (TILE + LABEL)
            sheet.paste(_preview(blobs.get(cid), media), (x, y))
            label = tile_label(g.group, cid)
            draw_.multiline_text((x + 4, y + TILE + 2), label, fill="black", font=font)
            labels.append(label)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    sheet.save(tmp, format="PNG")
    tmp.replace(out)
    return labels


def split_group(group: str) -> str:
    """The campaign of a group id ``campaign/template/locale/family`` (refused if malformed)."""
    parts = group.split("/")
    if len(parts) != 4 or not all(parts):
        raise ReviewError(
            f"{group[:120]!r} is not a review group", hint="groups look like CAMPAIGN/TEMPLATE/LOCALE/FAMILY"
        )
    return parts[0]


def decide(db: Database, group: str, decision: Decision, signer: Signer, trust_anchor_pem: str) -> Reviewer:
    """Sign and record a decision on the group's drawn sample; a rejection reseeds its design."""
    campaign = split_group(group)
    reviews = Reviews(db)
    drawn = reviews.sample(campaign, group)
    if drawn is None:
        raise ReviewError(f"no sample drawn for {group}", hint=f"run `mintloom review {campaign}` first")
    current = members_digest(reviews.groups(campaign).get(group, []))
    if current != drawn.members:
        raise StaleReviewError(
            f"the assets of {group} changed after its sample was drawn",
            hint=f"draw a new sample with `mintloom review {campaign}`",
        )
    sample = reviews.sample_cids(drawn)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    record = ReviewRecord(
        campaign=campaign,
        group=group,
        round=drawn.round,
        decision=decision,
        sample=tuple(sample),
        members=drawn.members,
        reviewer=fingerprint(signer.certificate_chain_pem),
        at=at,
    )
    signed = sign_review(record, signer)
    reviewer = check_review(signed, trust_anchor_pem=trust_anchor_pem, campaign=campaign, group=group)
    _record(db, signed, record)
    return reviewer


def _record(db: Database, signed: SignedReview, record: ReviewRecord) -> None:
    """The decision and (on rejection) the next round, in one transaction."""
    with db.session() as s:
        s.add(
            ReviewDecisionRow(
                campaign=record.campaign,
                group_id=record.group,
                decision=record.decision,
                payload=signed.payload.decode(),
                signature=signed.signature,
                certificate=signed.certificate_pem.decode(),
            )
        )
        if record.decision == "reject":
            design = design_of(record.group)
            row = s.get(ReviewRoundRow, (record.campaign, design))
            if row is None:
                s.add(ReviewRoundRow(campaign=record.campaign, design=design, round=record.round + 1))
            else:
                row.round = max(row.round, record.round + 1)
        s.flush()
        crash_point("review.decide")


def approved_assets(db: Database, campaign: str, trust_anchor_pem: str) -> set[str]:
    """Every current asset of the campaign, if every group is approved as it is now; otherwise
    :class:`ReviewRequiredError` naming the groups (a forged record: :class:`ForgedReviewError`)."""
    missing: list[str] = []
    approved: set[str] = set()
    for group, cids in Reviews(db).groups(campaign).items():
        reviewer = verified_decision(db, campaign, group, trust_anchor_pem)
        if reviewer is None or reviewer.record.decision != "approve":
            missing.append(f"{group} ({'unreviewed' if reviewer is None else 'rejected'})")
            continue
        try:
            check_fresh(reviewer, members_digest(cids))
        except StaleReviewError:
            missing.append(f"{group} (changed after approval)")
            continue
        approved |= set(cids)
    if missing:
        raise ReviewRequiredError(
            f"governance.require_review: {len(missing)} group(s) not approved: " + ", ".join(missing[:8]),
            hint=f"run `mintloom review {campaign}`, then `mintloom review approve GROUP --reviewer KEY`",
        )
    return approved
