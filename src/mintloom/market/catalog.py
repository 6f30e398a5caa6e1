"""Merkle listings: one brand signature over a catalog of an anchored checkpoint's assets.

The catalog is a tree of ``catalogLeaf(cid digest, metadata digest, price class)`` leaves with
OpenZeppelin's commutative pair hash (what ``MerkleProof.verifyCalldata`` checks). The signed
listing, its price names and its catalog entries are kept in the catalog database and shared as
JSON; reading either back recomputes the catalog root and the EIP-712 digest, so an entry moved to
a cheaper price class, or a listing edited after signing, is refused by name (``OrderTampered``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import MarketError
from mintloom.market.book import OrderTampered
from mintloom.market.orders import Domain, MerkleListing, catalog_leaf, merkle_listing_digest
from mintloom.store.cid import digest_of
from mintloom.store.db import Base, Database


class MerkleListingRow(Base):
    """A signed Merkle listing with its catalog (JSON), keyed by (chain id, EIP-712 digest)."""

    __tablename__ = "market_merkle_listings"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(42))
    signer: Mapped[str] = mapped_column(String(42), index=True)
    campaign: Mapped[str] = mapped_column(String(255), index=True)
    body: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class CatalogEntry:
    """One listed asset: its CID, its token metadata digest and its price class."""

    cid: str
    metadata_digest: bytes
    price_class: int

    @property
    def leaf(self) -> bytes:
        return catalog_leaf(digest_of(self.cid), self.metadata_digest, self.price_class)


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append(
            [_pair(cur[i], cur[i + 1]) if i + 1 < len(cur) else cur[i] for i in range(0, len(cur), 2)]
        )
    return levels


def catalog_root(entries: tuple[CatalogEntry, ...]) -> bytes:
    """The root ``MerkleProof`` checks catalog proofs against."""
    if not entries:
        raise MarketError(
            "a Merkle listing needs at least one asset", hint="check the prices' kinds and formats"
        )
    return _levels([e.leaf for e in entries])[-1][0]


def catalog_proof(entries: tuple[CatalogEntry, ...], index: int) -> list[bytes]:
    """The sibling path of entry ``index`` (an odd node out is carried up without a sibling)."""
    proof = []
    for level in _levels([e.leaf for e in entries])[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def proves(root: bytes, leaf: bytes, proof: list[bytes]) -> bool:
    """``MerkleProof.verify`` off chain."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root


@dataclass(frozen=True)
class SignedMerkleListing:
    """A brand's Merkle listing, its signature, the Marketplace it fills on and its catalog."""

    listing: MerkleListing
    signature: bytes
    domain: Domain
    campaign: str
    price_names: tuple[str, ...]
    entries: tuple[CatalogEntry, ...]

    @property
    def digest(self) -> bytes:
        return merkle_listing_digest(self.listing, self.domain)

    def entry(self, cid: str) -> tuple[int, CatalogEntry] | None:
        return next(((i, e) for i, e in enumerate(self.entries) if e.cid == cid), None)

    def to_json(self) -> dict[str, Any]:
        o = self.listing
        return {
            "type": "merkle-listing",
            "chain_id": self.domain.chain_id,
            "marketplace": self.domain.contract,
            "campaign": self.campaign,
            "listing": {
                "signer": o.signer,
                "checkpoint_size": o.checkpoint_size,
                "catalog_root": "0x" + o.catalog_root.hex(),
                "terms_id": o.terms_id,
                "currency": o.currency,
                "prices": [
                    [n, p] for n, p in zip(self.price_names, o.prices, strict=True)
                ],  # ordered: classes
                "expiry": o.expiry,
                "salt": o.salt,
                "counter": o.counter,
            },
            "catalog": [[e.cid, "0x" + e.metadata_digest.hex(), e.price_class] for e in self.entries],
            "signature": "0x" + self.signature.hex(),
            "order_hash": "0x" + self.digest.hex(),
        }


def listing_from_json(data: dict[str, Any]) -> SignedMerkleListing:
    """A shared Merkle listing; refuses one whose fields or catalog no longer match its signature."""
    try:
        f = dict(data["listing"])
        prices = {str(name): int(price) for name, price in f["prices"]}
        listing = MerkleListing(
            str(f["signer"]), int(f["checkpoint_size"]), _hex(f["catalog_root"]), int(f["terms_id"]),
            str(f["currency"]), tuple(prices.values()), int(f["expiry"]), int(f["salt"]), int(f["counter"]),
        )  # fmt: skip
        entries = tuple(CatalogEntry(str(c), _hex(m), int(k)) for c, m, k in data["catalog"])
        signed = SignedMerkleListing(
            listing,
            _hex(data["signature"]),
            Domain(int(data["chain_id"]), str(data["marketplace"])),
            str(data["campaign"]),
            tuple(prices),
            entries,
        )
        claimed = str(data["order_hash"]).lower()
    except (KeyError, TypeError, ValueError) as exc:
        raise MarketError(
            f"not a mintloom Merkle listing: {exc}", hint="export listings with mintloom"
        ) from exc
    if "0x" + signed.digest.hex() != claimed:
        raise OrderTampered(f"listing {claimed} was changed after it was signed", hint="ask the brand again")
    if catalog_root(entries) != listing.catalog_root:
        raise OrderTampered(
            f"the catalog of listing {claimed} does not hash to its signed root",
            hint="an entry was added, dropped or moved to another price class: ask the brand again",
        )
    return signed


def save_listing(db: Database, signed: SignedMerkleListing) -> str:
    """Keep a signed Merkle listing (idempotent); returns its hash."""
    h = "0x" + signed.digest.hex()
    with db.session() as s:
        if s.get(MerkleListingRow, (signed.domain.chain_id, h)) is None:
            s.add(
                MerkleListingRow(
                    chain_id=signed.domain.chain_id,
                    order_hash=h,
                    marketplace=signed.domain.contract,
                    signer=signed.listing.signer,
                    campaign=signed.campaign,
                    body=json.dumps(signed.to_json(), sort_keys=True),
                )
            )
    return h


def load_listings(db: Database, chain_id: int, campaign: str | None = None) -> list[SignedMerkleListing]:
    """The Merkle listings kept for ``chain_id`` (of ``campaign`` if given), each checked."""
    q = (
        select(MerkleListingRow)
        .where(MerkleListingRow.chain_id == chain_id)
        .order_by(MerkleListingRow.order_hash)
    )
    if campaign is not None:
        q = q.where(MerkleListingRow.campaign == campaign)
    with db.session() as s:
        rows = [(r.order_hash, r.body) for r in s.scalars(q)]
    out = []
    for h, body in rows:
        signed = listing_from_json(json.loads(body))
        if "0x" + signed.digest.hex() != h:
            raise OrderTampered(f"listing {h} was changed in the catalog", hint="delete it and sign it again")
        out.append(signed)
    return out


def _hex(value: Any) -> bytes:
    return bytes.fromhex(str(value).removeprefix("0x"))
