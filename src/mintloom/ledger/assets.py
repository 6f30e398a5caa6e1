"""Lazy registration: an asset becomes an ERC-721 token only when it matters economically.

Any asset in an anchored checkpoint can be registered by presenting its receipt's RFC 9162
inclusion proof, which ``CreativeAssets`` verifies on chain against the anchored root. The token
id is the CID's sha-256 digest (a UnixFS dag-pb CID goes through ``registerDagPb`` so the contract
rebuilds the same leaf and names the same CID); a derived variant's leaf commits to its parent,
which is registered first (recursively) and named in the registration: the contract checks it
against the leaf, so the parent that routes LAP royalties upstream is the logged one, never a choice.
Each registration names the token's metadata JSON (:mod:`mintloom.ledger.metadata`), stored in
the blob store and pinned before the transaction is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintloom.errors import LedgerError
from mintloom.faults import crash_point
from mintloom.ledger.client import ChainClient
from mintloom.ledger.metadata import (
    TokenFacts,
    licence_terms,
    manifest_record,
    pinned_metadata,
    publish_token_metadata,
)
from mintloom.provenance.log import Receipt, TransparencyLog
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import DAG_PB_CODEC, codec_of, digest_of
from mintloom.store.published import canonical_json
from mintloom.types import CID

CONTRACT = "CreativeAssets"
MAX_PARENT_DEPTH = 8


def token_id(cid: str) -> int:
    return int.from_bytes(digest_of(cid), "big")


@dataclass(frozen=True)
class Registration:
    cid: str
    token_id: int
    parent_token_id: int
    tx_hash: str | None
    gas_used: int | None
    already: bool


def _anchored_receipt(log: TransparencyLog, cid: str) -> Receipt:
    """The log receipt of ``cid``, which must be anchored: the contract checks its inclusion proof."""
    receipt = log.receipt(cid)
    if receipt is None:
        raise LedgerError(
            f"{cid} is not in the log", hint="only assets made by a campaign run can be registered"
        )
    if receipt.anchor is None:
        raise LedgerError(
            f"{cid} is in the log but its checkpoint is not anchored yet", hint="run `mintloom anchor`"
        )
    return receipt


def _metadata_cid(chain: ChainClient, catalog: Catalog, blobs: BlobStore, receipt: Receipt) -> CID:
    """The pinned metadata JSON of ``receipt.cid`` on this chain, else a new one (stored and pinned)."""
    pinned = pinned_metadata(catalog.db, chain.chain_id, receipt.cid)
    if pinned is not None and blobs.has(pinned.metadata_cid) and blobs.has(pinned.receipt_cid):
        return CID(pinned.metadata_cid)
    row = catalog.asset(receipt.cid)
    terms = chain.call("LicenseMarket", "termsOfLeaf", receipt.leaf_index)
    facts = TokenFacts(
        cid=receipt.cid,
        row=row,
        generation=manifest_record(blobs, row),
        receipt=receipt,
        receipt_cid=blobs.put(canonical_json(receipt.model_dump(mode="json"))),
        terms=tuple(licence_terms(chain, int(t)) for t in terms),
        chain_id=chain.chain_id,
        contracts={n: chain.address_of(n) for n in ("CreativeAssets", "LicenseMarket")},
    )
    return publish_token_metadata(catalog.db, blobs, facts)


def token_metadata_digest(
    chain: ChainClient, log: TransparencyLog, catalog: Catalog, blobs: BlobStore, cid: str
) -> bytes:
    """The digest of ``cid``'s token metadata JSON (made and pinned once per chain): what its
    registration names, so a Merkle listing can commit to it before anything is registered."""
    return digest_of(_metadata_cid(chain, catalog, blobs, _anchored_receipt(log, cid)))


def register_asset(
    chain: ChainClient,
    log: TransparencyLog,
    catalog: Catalog,
    cid: str,
    *,
    blobs: BlobStore,
    owner: str | None = None,
    _depth: int = 0,
) -> Registration:
    """Register ``cid`` (and its unregistered parents) in ``CreativeAssets`` with its metadata
    JSON (written to ``blobs``); idempotent."""
    tid = token_id(cid)
    if chain.call(CONTRACT, "isRegistered", tid):
        return Registration(cid, tid, int(chain.call(CONTRACT, "parentOf", tid)), None, None, True)
    receipt = _anchored_receipt(log, cid)
    parent_tid = 0
    if receipt.parent is not None:  # the parent the log committed to, not the catalog's say
        if _depth >= MAX_PARENT_DEPTH:
            raise LedgerError(f"{cid}: derivation chain deeper than {MAX_PARENT_DEPTH}")
        parent = register_asset(
            chain, log, catalog, receipt.parent, blobs=blobs, owner=owner, _depth=_depth + 1
        )
        parent_tid = parent.token_id
    proof = [bytes.fromhex(p) for p in receipt.inclusion_proof]
    metadata = _metadata_cid(chain, catalog, blobs, receipt)
    crash_point("register-pinned")
    result = chain.transact(
        CONTRACT,
        "registerDagPb" if codec_of(cid) == DAG_PB_CODEC else "register",
        owner or chain.address,
        digest_of(cid),
        bytes.fromhex(receipt.manifest_hash),
        receipt.leaf_index,
        receipt.tree_size,
        proof,
        parent_tid,
        digest_of(metadata),
        kind=f"register:{cid}",
    )
    return Registration(cid, tid, parent_tid, result.tx_hash, result.gas_used, False)
