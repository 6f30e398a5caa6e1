"""The campaigns page's numbers: assets by kind, QA, review and anchor state (reads only)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.sql.functions import count

from mintloom.api.studio.review_state import group_states
from mintloom.provenance.log import ReceiptRow
from mintloom.store.annotations import QARow
from mintloom.store.catalog import AssetRow, CampaignRow
from mintloom.store.db import Database


@dataclass
class CampaignSummary:
    name: str
    kinds: Counter[str] = field(default_factory=Counter)
    qa_checked: int = 0
    qa_held: int = 0
    review: Counter[str] = field(default_factory=Counter)
    """Review groups by state."""
    receipts: int = 0
    anchored: int = 0

    @property
    def assets(self) -> int:
        return sum(self.kinds.values())

    @property
    def anchor_state(self) -> str:
        if self.assets == 0:
            return "empty"
        if self.anchored == self.assets:
            return "anchored"
        return "partly anchored" if self.anchored else ("logged, not anchored" if self.receipts else "logged")


def campaign_summaries(db: Database, trust_anchor_pem: str | None) -> list[CampaignSummary]:
    """One summary per campaign, in name order."""
    with db.session() as s:
        out = {n: CampaignSummary(n) for n in s.scalars(select(CampaignRow.name).order_by(CampaignRow.name))}
        for c, kind, n in s.execute(
            select(AssetRow.campaign, AssetRow.kind, count()).group_by(AssetRow.campaign, AssetRow.kind)
        ):
            out[c].kinds[kind] = n
        for c, held, n in s.execute(
            select(QARow.campaign, QARow.held, count()).group_by(QARow.campaign, QARow.held)
        ):
            if c in out:
                out[c].qa_checked += n
                out[c].qa_held += n if held else 0
        q = select(AssetRow.campaign, ReceiptRow.anchored, count()).join(
            ReceiptRow, ReceiptRow.cid == AssetRow.cid
        )
        for c, anchored, n in s.execute(q.group_by(AssetRow.campaign, ReceiptRow.anchored)):
            out[c].receipts += n
            out[c].anchored += n if anchored else 0
    for summary in out.values():
        if trust_anchor_pem is not None:
            summary.review.update(g.state for g in group_states(db, summary.name, trust_anchor_pem))
    return list(out.values())
