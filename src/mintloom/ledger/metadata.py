"""ERC-721 token metadata: the JSON ``CreativeAssets.tokenURI`` names, fixed at registration.

Wallets and marketplaces read a token through its metadata JSON (name, description, ``image`` or
``animation_url``, ``attributes``). mintloom writes it when an asset is registered, from what is
settled by then: the catalog row, the Content Credential (model, datasets and digital source type
as the signed manifest states them), the anchored receipt (stored as canonical JSON and linked by
its CID), the licence terms attached to the asset's log leaf and the contract addresses. Nothing
that only exists later is named, so the JSON never has to change: its CID is on chain for good.

Privacy: the JSON leaves the workspace, so it names no audience field (segment, job key, seed,
auto-tags, export path); only the campaign, kind, locale and format, as the manifest does.

The metadata CID of each registered asset is kept per chain in ``token_metadata`` *before* the
registration is sent, so a rerun after a crash sends the very same transaction (the journal's
intent matches) instead of one naming a second JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import LedgerError
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.content_credentials import read_credentials
from mintloom.provenance.credentials import GenerationRecord
from mintloom.provenance.log import Receipt
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow
from mintloom.store.cid import CHUNK_SIZE, digest_of
from mintloom.store.db import Base, Database
from mintloom.store.published import canonical_json
from mintloom.types import CID

TERMS_FIELDS = (
    "commercial_use",
    "derivatives_allowed",
    "attribution_required",
    "ai_training_allowed",
    "rev_share_bps",
    "minting_fee",
    "currency",
    "territory",
    "expiry",
    "uri",
)
"""``LicenseTemplates.Terms`` in order (the fee as a decimal string: JSON has no uint256)."""


class TokenMetadataRow(Base):
    """The metadata JSON (and stored receipt) of an asset registered, or being registered, on a chain."""

    __tablename__ = "token_metadata"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cid: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)  # published_metadata: by cid
    metadata_cid: Mapped[str] = mapped_column(String(80))
    receipt_cid: Mapped[str] = mapped_column(String(80))


@dataclass(frozen=True)
class LicenceTerms:
    """Terms attached to an asset's leaf: their id, flavour name ("" if custom) and fields."""

    terms_id: int
    name: str
    fields: dict[str, Any]


def licence_terms(chain: ChainReader, terms_id: int) -> LicenceTerms:
    """``LicenseTemplates`` terms ``terms_id`` as JSON-ready fields."""
    raw = chain.call("LicenseTemplates", "terms", terms_id)
    fields = dict(zip(TERMS_FIELDS, raw, strict=True))
    fields["minting_fee"] = str(fields["minting_fee"])
    fields["territory"] = bytes(fields["territory"]).decode("ascii", "replace")
    fields["currency"] = str(fields["currency"])
    return LicenceTerms(terms_id, str(chain.call("LicenseTemplates", "flavourName", terms_id)), fields)


def license_id(token_id: int, terms_id: int) -> int:
    """``LicenseMarket.licenseIdOf``: keccak256(abi.encode(tokenId, termsId))."""
    return int.from_bytes(keccak(token_id.to_bytes(32, "big") + terms_id.to_bytes(32, "big")), "big")


def _display(row: AssetRow | None, cid: str) -> tuple[str, str]:
    if row is None:
        return f"mintloom asset {cid[:16]}…", "An asset in a mintloom transparency log."
    parts = ", ".join(x for x in (row.locale, row.format) if x)
    name = f"{row.campaign}: {row.kind}" + (f" ({parts})" if parts else "")
    made = f"{row.engine} {row.engine_version}" + (f" with model {row.model_id}" if row.model_id else "")
    return name, (
        f"A {row.kind} of campaign {row.campaign}, made by {made}. It carries a C2PA Content "
        f"Credential and is leaf {row.leaf_index} of the mintloom transparency log anchored on chain."
    )


def _media(row: AssetRow | None, cid: str) -> dict[str, Any]:
    """``image`` for images, ``animation_url`` for audio and video; text is named in ``properties``."""
    uri = f"ipfs://{cid}"
    kind = (row.media_type if row else "").split("/")[0]
    if kind == "image":
        return {"image": uri}
    if kind in ("audio", "video"):
        return {"animation_url": uri}
    return {}


def _attributes(row: AssetRow | None, gen: GenerationRecord | None) -> list[dict[str, Any]]:
    pairs: list[tuple[str, str | None]] = []
    if row is not None:
        pairs += [("campaign", row.campaign), ("kind", row.kind), ("locale", row.locale)]
        pairs += [("format", row.format), ("engine", f"{row.engine} {row.engine_version}")]
    if gen is not None:
        pairs += [("model", gen.model_id), ("datasets", ", ".join(gen.dataset_ids) or None)]
        pairs.append(("digital source type", str(gen.source_type).rsplit("/", 1)[-1]))
    return [{"trait_type": k, "value": v} for k, v in pairs if v]


@dataclass(frozen=True)
class TokenFacts:
    """Everything the metadata JSON of one asset names (all of it settled at registration)."""

    cid: str
    row: AssetRow | None
    generation: GenerationRecord | None
    receipt: Receipt
    receipt_cid: str
    terms: tuple[LicenceTerms, ...]
    chain_id: int
    contracts: dict[str, str]


def token_metadata(f: TokenFacts) -> dict[str, Any]:
    """The ERC-721 metadata JSON object of ``f.cid`` (wallet/OpenSea schema plus ``properties``)."""
    name, description = _display(f.row, f.cid)
    tid = int.from_bytes(digest_of(f.cid), "big")
    anchor = f.receipt.anchor
    assert anchor is not None  # registration needs an anchored receipt
    asset: dict[str, Any] = {"cid": f.cid, "uri": f"ipfs://{f.cid}", "manifest_hash": f.receipt.manifest_hash}
    if f.row is not None:
        asset["media_type"] = f.row.media_type
        if f.row.logged_sidecar_cid:
            asset["credential_sidecar"] = f"ipfs://{f.row.logged_sidecar_cid}"
    if f.generation is not None:
        asset["digital_source_type"] = str(f.generation.source_type)
    provenance = {
        "log_leaf_index": f.receipt.leaf_index,
        "leaf_hash": f.receipt.leaf_hash().hex(),
        "receipt": f"ipfs://{f.receipt_cid}",
        "checkpoint": {"size": f.receipt.tree_size, "root": f.receipt.checkpoint.root},
        "anchor": {
            "chain_id": anchor.chain_id,
            "provenance_log": anchor.contract,
            "tx": anchor.tx_hash,
            "block": anchor.block,
        },
    }
    licences = [
        {
            "terms_id": t.terms_id,
            "name": t.name,
            "license_token_id": f"{license_id(tid, t.terms_id):064x}",
            "license_market": f.contracts["LicenseMarket"],
            **t.fields,
        }
        for t in f.terms
    ]
    token = {"chain_id": f.chain_id, "contract": f.contracts["CreativeAssets"], "token_id": str(tid)}
    return {
        "name": name,
        "description": description,
        **_media(f.row, f.cid),
        "attributes": _attributes(f.row, f.generation),
        "properties": {"asset": asset, "provenance": provenance, "licences": licences, "token": token},
    }


def manifest_record(blobs: BlobStore, row: AssetRow | None) -> GenerationRecord | None:
    """The generation record of the asset's signed manifest (None if the asset is not here)."""
    if row is None or not blobs.has(row.cid):
        return None
    sidecar = row.logged_sidecar_cid
    side = blobs.get(sidecar) if sidecar and blobs.has(sidecar) else None
    return read_credentials(blobs.get(row.cid), row.media_type, sidecar=side).generation


def pinned_metadata(db: Database, chain_id: int, cid: str) -> TokenMetadataRow | None:
    with db.session() as s:
        return s.scalars(
            select(TokenMetadataRow).where(TokenMetadataRow.chain_id == chain_id, TokenMetadataRow.cid == cid)
        ).first()


def publish_token_metadata(db: Database, blobs: BlobStore, facts: TokenFacts) -> CID:
    """Store the metadata JSON (and receipt) of ``facts.cid`` and pin its CID for this chain; the
    CID pinned by an earlier (interrupted) registration wins, so a rerun sends the same write."""
    pinned = pinned_metadata(db, facts.chain_id, facts.cid)
    if pinned is not None and blobs.has(pinned.metadata_cid) and blobs.has(pinned.receipt_cid):
        return CID(pinned.metadata_cid)
    data = canonical_json(token_metadata(facts))
    if len(data) > CHUNK_SIZE:  # the contract names it as one raw block
        raise LedgerError(f"the token metadata of {facts.cid} is over {CHUNK_SIZE} bytes")
    cid = blobs.put(data)
    with db.session() as s:
        if pinned is None:
            s.add(
                TokenMetadataRow(
                    chain_id=facts.chain_id, cid=facts.cid, metadata_cid=cid, receipt_cid=facts.receipt_cid
                )
            )
        else:  # its blobs were lost: the same facts give the same CIDs again
            row = s.get(TokenMetadataRow, (facts.chain_id, facts.cid))
            assert row is not None
            row.metadata_cid, row.receipt_cid = cid, facts.receipt_cid
    return cid


def published_metadata(db: Database, cids: list[str]) -> list[TokenMetadataRow]:
    """The metadata rows (any chain) of the assets ``cids``."""
    with db.session() as s:
        return list(s.scalars(select(TokenMetadataRow).where(TokenMetadataRow.cid.in_(cids))))
