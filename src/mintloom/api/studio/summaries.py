"""The campaigns page's numbers: assets by kind, QA, review and anchor state (reads only)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mintloom.api.studio.review_state import group_states
from mintloom.provenance.anchor_state import receipt_counts
from mintloom.store.db import Database
from mintloom.store.gallery import campaign_counts


@dataclass
class CampaignSummary:
    name: str
    kinds: dict[str, int]
    qa_checked: int = 0
    qa_held: int = 0
    receipts: int = 0
    anchored: int = 0
    review: Counter[str] = field(default_factory=Counter)
    """Review groups by state."""

    @property
    def assets(self) -> int:
        return sum(self.kinds.values())

    @property
    def anchor_state(self) -> str:
        if self.assets == 0:
            return "empty"
        if self.anchored >= self.assets:
            return "anchored"
        if self.anchored:
            return "partly anchored"
        return "receipted, not anchored" if self.receipts else "logged, not checkpointed"


def campaign_summaries(db: Database, trust_anchor_pem: str | None) -> list[CampaignSummary]:
    """One summary per campaign, in name order (review states only with a trust anchor)."""
    receipts = receipt_counts(db)
    out: list[CampaignSummary] = []
    for name, c in campaign_counts(db).items():
        summary = CampaignSummary(name, c.kinds, c.qa_checked, c.qa_held, *receipts.get(name, (0, 0)))
        if trust_anchor_pem is not None:
            summary.review.update(g.state for g in group_states(db, name, trust_anchor_pem))
        out.append(summary)
    return out
