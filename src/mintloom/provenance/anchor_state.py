"""How much of each campaign the log has receipted and anchored (the studio's campaigns page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.sql.functions import count

from mintloom.provenance.log import ReceiptRow
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Database


def receipt_counts(db: Database) -> dict[str, tuple[int, int]]:
    """Campaign → (assets with a receipt, assets whose receipt is anchored on chain)."""
    q = select(AssetRow.campaign, ReceiptRow.anchored, count()).join(
        ReceiptRow, ReceiptRow.cid == AssetRow.cid
    )
    out: dict[str, tuple[int, int]] = {}
    with db.session() as s:
        for campaign, anchored, n in s.execute(q.group_by(AssetRow.campaign, ReceiptRow.anchored)):
            receipts, done = out.get(campaign, (0, 0))
            out[campaign] = (receipts + n, done + (n if anchored else 0))
    return out
