"""What the asset page shows: the file's Content Credential, lineage, receipt and chain facts."""

from __future__ import annotations

from dataclasses import dataclass, field

from mintloom.chain_lookup import ReaderLookup
from mintloom.errors import MintloomError
from mintloom.ledger.lineage import Names
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.content_credentials import CredentialReport, read_credentials
from mintloom.provenance.ingredient_thumbs import ingredients
from mintloom.provenance.log import Receipt, TransparencyLog
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.db import Database
from mintloom.store.gallery import children
from mintloom.verify.report import LicenseInfo, TermsInfo

MAX_TEXT = 20_000


@dataclass(frozen=True)
class Link:
    cid: str
    relation: str
    asset: AssetRow | None


@dataclass(frozen=True)
class ChainFacts:
    """What the chain says about an asset (all empty with ``error`` set when it cannot be read)."""

    licence: LicenseInfo | None = None
    split: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class AssetView:
    row: AssetRow
    credential: CredentialReport
    parents: list[Link]
    children: list[Link]
    receipt: Receipt | None
    text: str | None
    """A copy asset's visible text (logged-in users only)."""
    thumbs: frozenset[int] = frozenset()
    """Indices of the manifest's ingredients that carry a thumbnail (served by ``ingredient_thumb``)."""


def visible_text(data: bytes) -> str:
    """Text without the invisible variation selectors that carry an embedded C2PA manifest."""
    text = data.decode("utf-8", "replace")[:MAX_TEXT]
    return "".join(c for c in text if not (0xFE00 <= ord(c) <= 0xFE0F or ord(c) >= 0xE0100))


def _links(db: Database, cid: str) -> tuple[list[Link], list[Link]]:
    catalog = Catalog(db)
    parents = [Link(p, r, catalog.asset(p)) for p, r in catalog.parents(cid)]
    derived = [Link(c, r, catalog.asset(c)) for c, r in children(db, cid)]
    return parents, derived


def asset_view(
    db: Database, blobs: BlobStore, log: TransparencyLog, row: AssetRow, anchor: str | None
) -> AssetView:
    """The page's data, read from the catalog, blob store and log (nothing written)."""
    data = blobs.get(row.cid)
    sidecar = blobs.get(row.logged_sidecar_cid) if row.logged_sidecar_cid else None
    credential = read_credentials(data, row.media_type, trust_anchors_pem=anchor, sidecar=sidecar)
    parents, children = _links(db, row.cid)
    text = visible_text(data) if row.kind == "copy" else None
    thumbs = frozenset(i.index for i in ingredients(data, row.media_type) if i.thumbnail)
    return AssetView(row, credential, parents, children, log.receipt(row.cid), text, thumbs)


def chain_facts(
    reader: ChainReader | None, db: Database, row: AssetRow, why: str | None, *,
    blobs: BlobStore | None = None, anchor: str | None = None,
) -> ChainFacts:  # fmt: skip
    """Terms, owner, sales and on-chain lineage of the asset (its model's training run checked
    against the records in ``blobs`` and the trust ``anchor``), and its campaign's royalty split."""
    if reader is None:
        return ChainFacts(error=why or "offline")
    try:
        licence = ReaderLookup(reader, blobs, anchor).licenses([(row.leaf_index, row.cid)], detail=True)[0]
        return ChainFacts(licence, split_of(reader, db, row.campaign))
    except MintloomError as exc:
        return ChainFacts(error=exc.message)


def split_of(reader: ChainReader, db: Database, campaign: str) -> list[tuple[str, int]]:
    """(account, basis points) of the campaign's royalty split on this chain, [] if it has none."""
    split_id = Names(db, reader.chain_id).get("split", campaign)
    if split_id is None:
        return []
    recipients, bps = reader.call("RoyaltyVault", "split", split_id)
    return [(str(a), int(b)) for a, b in zip(recipients, bps, strict=True)]


def licence_words(t: TermsInfo) -> list[str]:
    """Licence terms as sentences a buyer reads."""
    words = [
        f"Commercial use is {'allowed' if t.commercial_use else 'not allowed'}.",
        f"Derivative works are {'allowed' if t.derivatives_allowed else 'not allowed'}.",
        "Attribution is required." if t.attribution_required else "No attribution is required.",
        f"AI training and data mining are {'allowed' if t.ai_training_allowed else 'not allowed'}.",
        f"Derivatives share {t.rev_share_bps / 100:g}% of their revenue upstream.",
        f"Territory: {t.territory or 'worldwide'}.",
        "The licence does not expire." if t.expiry == 0 else f"The licence expires at Unix time {t.expiry}.",
    ]
    if t.minting_fee:
        words.append(f"Minting a licence costs {t.minting_fee} (smallest units of {t.currency}).")
    return words
