"""ERC-1155 licence metadata: the folder ``LicenseMarket.uri(id)`` names.

A licence token's id is ``keccak256(abi.encode(tokenId, termsId))``, so a wallet substitutes that
id (64 lower-case hex digits, EIP-1155 ``{id}``) into ``ipfs://<folder>/{id}.json``. The folder
holds one canonical JSON per (asset, attached terms) of the workspace's anchored assets: name,
description, the asset's ``image`` where it is one, and ``properties`` with the terms. It is built
from the terms ranges on chain, stored file by file in the blob store, and named on chain with
``setMetadataRoot`` only when its CID changed (a rerun sends nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import BlobError
from mintloom.faults import crash_point
from mintloom.ledger.client import ChainClient
from mintloom.ledger.metadata import LicenceTerms, licence_terms, license_id, published_metadata
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import DAG_PB_CODEC, cid_from_digest, digest_of
from mintloom.store.db import Base, Database
from mintloom.store.published import canonical_json, file_link, folder_blocks, folder_cid_of_links
from mintloom.store.unixfs import DirLink
from mintloom.types import CID


class LicenceFolderRow(Base):
    """The licence folder last named on a chain, and the blob listing its files (name → CID)."""

    __tablename__ = "licence_folders"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_cid: Mapped[str] = mapped_column(String(80))
    listing_cid: Mapped[str] = mapped_column(String(80))


PAGE = 1000
"""Licence files built, stored and released together: publishing holds one page of them, not the
campaign's (~1 KB each, which grew the process by tens of MB at 20k assets)."""


@dataclass(frozen=True)
class LicenceFolder:
    cid: CID
    files: int
    """how many licence files it holds"""
    tx_hash: str | None


def licence_json(asset: AssetRow, terms: LicenceTerms, chain_id: int, market: str) -> dict[str, Any]:
    """The ERC-1155 metadata JSON of licences of ``asset`` under ``terms`` (no audience field)."""
    flavour = terms.name or f"terms #{terms.terms_id}"
    media = {"image": f"ipfs://{asset.cid}"} if asset.media_type.startswith("image/") else {}
    return {
        "name": f"Licence {flavour}: {asset.campaign} {asset.kind}",
        "description": (
            f"A licence under mintloom terms #{terms.terms_id} ({flavour}) for the {asset.kind} "
            f"ipfs://{asset.cid} of campaign {asset.campaign}. The terms below are those "
            "LicenseTemplates holds on chain."
        ),
        **media,
        "properties": {
            "asset": f"ipfs://{asset.cid}",
            "token_id": str(int.from_bytes(digest_of(asset.cid), "big")),
            "terms_id": terms.terms_id,
            "terms": {"name": terms.name, **terms.fields},
            "license_market": market,
            "chain_id": chain_id,
        },
    }


def _terms_ranges(chain: ChainClient, size: int) -> list[tuple[int, int, list[int]]]:
    """(from, to, terms ids) of LicenseMarket's ranges below leaf ``size``, sorted (one call per
    range: they are few, one per kind and run)."""
    if size == 0:
        return []
    out = []
    for r in chain.call("LicenseMarket", "rangesOverlapping", 0, size):
        ids = [int(t) for t in chain.call("LicenseMarket", "termsOfLeaf", int(r[0]))]
        out.append((int(r[0]), min(int(r[1]), size), ids))
    return sorted(out)


def licence_files(chain: ChainClient, db: Database, size: int) -> Iterator[tuple[str, bytes]]:
    """Every licence JSON of the workspace's assets below leaf ``size``, as (file name, bytes), in
    leaf order; the assets are read a page at a time."""
    ranges = _terms_ranges(chain, size)
    market = chain.address_of("LicenseMarket")
    known: dict[int, LicenceTerms] = {}
    pos = 0
    for asset in Catalog(db).iter_assets(below=size, page=PAGE):
        while pos < len(ranges) and ranges[pos][1] <= asset.leaf_index:
            pos += 1
        if pos == len(ranges) or asset.leaf_index < ranges[pos][0]:
            continue
        for tid in ranges[pos][2]:
            terms = known.get(tid) or known.setdefault(tid, licence_terms(chain, tid))
            lid = license_id(int.from_bytes(digest_of(asset.cid), "big"), tid)
            yield f"{lid:064x}.json", canonical_json(licence_json(asset, terms, chain.chain_id, market))


def publish_licence_folder(chain: ChainClient, db: Database, blobs: BlobStore, size: int) -> LicenceFolder:
    """Store the licence folder's files a page at a time (one flush each), keeping only their
    folder entries, and name the folder's CID on chain if it changed."""
    links: list[DirLink] = []
    listing: dict[str, str] = {}
    files = licence_files(chain, db, size)
    while page := list(islice(files, PAGE)):
        cids = blobs.put_many([data for _, data in page])
        for (name, data), cid in zip(page, cids, strict=True):
            links.append(file_link(name, data))
            listing[name] = cid
    root = folder_cid_of_links(links)
    crash_point("publish.licence_files")
    _remember(db, chain.chain_id, root, blobs.put(canonical_json(listing)))
    crash_point("publish.licence_remembered")
    on_chain = cid_from_digest(bytes(chain.call("LicenseMarket", "metadataRoot")), DAG_PB_CODEC)
    tx = None
    if on_chain != root:
        tx = chain.transact(
            "LicenseMarket", "setMetadataRoot", digest_of(root), kind=f"licence-folder:{root}"
        ).tx_hash
    return LicenceFolder(root, len(links), tx)


def _remember(db: Database, chain_id: int, root: str, listing_cid: str) -> None:
    with db.session() as s:
        row = s.get(LicenceFolderRow, chain_id)
        if row is None:
            s.add(LicenceFolderRow(chain_id=chain_id, root_cid=root, listing_cid=listing_cid))
        else:
            row.root_cid, row.listing_cid = root, listing_cid


def stored_folders(db: Database, blobs: BlobStore) -> Iterator[tuple[CID, dict[str, bytes]]]:
    """Each chain's licence folder as last published: its CID and files (read back from ``blobs``)."""
    with db.session() as s:
        rows = [(r.root_cid, r.listing_cid) for r in s.scalars(select(LicenceFolderRow))]
    for root, listing_cid in rows:
        listing = json.loads(blobs.get(listing_cid))
        files = {str(name): blobs.get(str(cid)) for name, cid in listing.items()}
        yield CID(root), files


def folder_export(db: Database, blobs: BlobStore) -> Iterator[tuple[str, bytes]]:
    """Every block of every stored licence folder (for a CAR); a folder that no longer rebuilds to
    its CID is refused."""
    for root, files in stored_folders(db, blobs):
        last = None
        for last, block in folder_blocks(files):
            yield last, block
        if last != root:
            raise BlobError(f"the stored licence folder {root} rebuilds as {last}")


def published_documents(db: Database, blobs: BlobStore, asset_cids: list[str]) -> tuple[list[str], list[str]]:
    """What a CAR of ``asset_cids`` adds so tokenURI and uri(id) resolve from it: the roots (each
    registered asset's metadata JSON, each licence folder) and the single-blob CIDs to include
    (metadata JSONs and the receipts they link)."""
    rows = published_metadata(db, asset_cids)
    blobs_cids = sorted({r.metadata_cid for r in rows} | {r.receipt_cid for r in rows})
    roots = sorted({r.metadata_cid for r in rows}) + [root for root, _ in stored_folders(db, blobs)]
    return roots, blobs_cids
