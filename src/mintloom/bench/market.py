"""Marketplace gas on a private anvil, as users pay it: one real transaction each, its receipt's
``gasUsed`` (21,000 + calldata + execution, refunds applied).

A real log of ``leaves`` assets (distinct CIDs and manifest hashes, persisted and anchored as
``mintloom anchor`` does) gets a split over its checkpoint; the brand signs ONE Merkle listing over
a catalog of every asset (metadata digest and price class per asset, two price classes). A fresh
buyer picks an asset whose log proof has the full depth and buys it through the listing (proof,
lazy registration minted to them, payment, royalty to the split receiver), then lists it for
resale (EIP-712, eth-account) and a second fresh buyer fills that listing. Both buyers hold no
asset before (the ERC-721 balance slot is new), the worst case of a first purchase.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils.crypto import keccak

from mintloom.bench import Figure
from mintloom.bench.ledger import _grow
from mintloom.errors import MintloomError
from mintloom.ledger.anchoring import anchor_log
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import ZERO_ADDRESS, deploy_all
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode, dev_key
from mintloom.ledger.reader import Deployments
from mintloom.market.orders import (
    Domain,
    Kind,
    MerkleListing,
    Order,
    Side,
    catalog_leaf,
    sign_merkle_listing,
    sign_order,
)
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for, digest_of
from mintloom.store.db import Database

LEAVES = 100_000
PRICES = (10**17, 4 * 10**16)  # price class 0 (image), 1 (copy)
RESALE_PRICE = 3 * 10**17


class BenchFailed(MintloomError):
    """The market benchmark's transactions did not end as a sale must (owner, royalty)."""


@dataclass(frozen=True)
class Catalog:
    """A Merkle listing's catalog: OpenZeppelin MerkleProof tree (sorted-pair keccak) over
    ``catalog_leaf(cid digest, metadata digest, price class)`` of every asset."""

    levels: list[list[bytes]]

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        out = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index //= 2
        return out


def build_catalog(leaves: list[bytes]) -> Catalog:
    """The tree over ``leaves`` in order; an odd node is carried up unpaired (verifies with OZ)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        nxt = [keccak(b"".join(sorted(cur[i : i + 2]))) for i in range(0, len(cur) - 1, 2)]
        if len(cur) % 2:
            nxt.append(cur[-1])
        levels.append(nxt)
    return Catalog(levels)


def _asset(i: int) -> tuple[str, bytes, bytes, int]:
    """Asset i as bench.ledger logs it: CID, manifest hash, its metadata digest, price class."""
    cid = cid_for(i.to_bytes(8, "big"))
    manifest = hashlib.sha256(i.to_bytes(8, "big")).digest()
    metadata = hashlib.sha256(b'{"name":"asset %d","image":"ipfs://%s"}' % (i, cid.encode())).digest()
    return cid, manifest, metadata, i % 2


class _Market:
    """One workspace on the anvil: the brand's client (admin, BRAND_ROLE) and fresh buyers."""

    def __init__(self, work: Path, rpc_url: str) -> None:
        self.work = work
        self.rpc_url = rpc_url
        self.dbs: list[Database] = []
        self.brand = self.client(ANVIL_DEV_KEY)
        deploy_all(self.brand)
        self.domain = Domain(self.brand.chain_id, self.brand.address_of("Marketplace"))

    def client(self, key: str) -> ChainClient:
        db = open_workspace_database(f"sqlite:///{self.work / f'catalog-{len(self.dbs)}.db'}")
        self.dbs.append(db)
        return ChainClient(self.rpc_url, key, db, Deployments(self.work / "deployments.json"))


def _split_whole_log(m: _Market, size: int) -> None:
    artist = Account.from_key(dev_key(9)).address
    m.brand.transact("RoyaltyVault", "createSplit", [m.brand.address, artist], [6000, 4000])
    split_id = int(m.brand.call("RoyaltyVault", "splitCount"))
    m.brand.transact("RoyaltyVault", "assignSplit", size, 0, size, split_id)


def _merkle_fill(
    m: _Market, log: TransparencyLog, size: int, pick: int
) -> tuple[int, ChainClient, tuple[int, int]]:
    assets = [_asset(i) for i in range(size)]
    catalog = build_catalog([catalog_leaf(digest_of(c), meta, pc) for c, _, meta, pc in assets])
    listing = MerkleListing(
        m.brand.address, size, catalog.root, 0, ZERO_ADDRESS, PRICES, int(time.time()) + 86_400, 1, 0
    )
    signature = sign_merkle_listing(listing, m.domain, ANVIL_DEV_KEY)
    cid, manifest, metadata, price_class = assets[pick]
    log_proof, catalog_proof = log.inclusion_proof(pick, size), catalog.proof(pick)
    item = (digest_of(cid), manifest, pick, False, 0, metadata, price_class, log_proof, catalog_proof)
    buyer = m.client(dev_key(1))
    result = buyer.transact(
        "Marketplace",
        "fillMerkleListing",
        listing.as_tuple(),
        signature,
        item,
        1,
        buyer.address,
        value=PRICES[price_class],
    )
    tid = int.from_bytes(digest_of(cid), "big")
    if str(buyer.call("CreativeAssets", "ownerOf", tid)).lower() != buyer.address.lower():
        raise BenchFailed(f"the Merkle fill did not mint token {tid} to the buyer")
    return result.gas_used, buyer, (len(log_proof), len(catalog_proof))


def _listing_fill(m: _Market, seller: ChainClient, tid: int) -> int:
    seller.transact("CreativeAssets", "setApprovalForAll", m.domain.contract, True)
    counter = int(seller.call("Marketplace", "counterOf", seller.address))
    transfers = int(seller.call("CreativeAssets", "transferCountOf", tid))  # an asset listing names it
    order = Order(
        seller.address, Side.LISTING, Kind.ASSET, tid, transfers, 0, 0, 1, ZERO_ADDRESS, RESALE_PRICE,
        int(time.time()) + 86_400, 7, counter,
    )  # fmt: skip
    signature = sign_order(order, m.domain, dev_key(1))
    buyer = m.client(dev_key(2))
    receiver = buyer.call("CreativeAssets", "royaltyInfo", tid, RESALE_PRICE)[0]
    before = buyer.w3.eth.get_balance(receiver)
    result = buyer.transact(
        "Marketplace", "fillListing", order.as_tuple(), signature, 1, buyer.address, value=RESALE_PRICE
    )
    if str(buyer.call("CreativeAssets", "ownerOf", tid)).lower() != buyer.address.lower():
        raise BenchFailed(f"the listing fill did not move token {tid} to the buyer")
    if buyer.w3.eth.get_balance(receiver) <= before:
        raise BenchFailed("the resale paid no royalty into the split receiver")
    return result.gas_used


def measure(work: Path, leaves: int = LEAVES) -> list[Figure]:
    keys = KeyStore(work / "keys")
    keys.init("bench", password="bench-password")
    node = AnvilNode(work / "chain")
    info = node.start()
    m: _Market | None = None
    try:
        m = _Market(work, info.rpc_url)
        log = TransparencyLog(m.dbs[0])
        _grow(log, 0, leaves)
        anchor_log(m.brand, log, keys.signer("bench-password"))
        _split_whole_log(m, leaves)
        pick = min(41_234, leaves // 2 - 1)  # left of the largest perfect subtree: a full-depth proof
        merkle_gas, buyer, depth = _merkle_fill(m, log, leaves, pick)
        listing_gas = _listing_fill(m, buyer, int.from_bytes(digest_of(_asset(pick)[0]), "big"))
    finally:
        node.stop()
        for db in m.dbs if m else []:
            db.dispose()
    merkle_note = (
        f"one brand signature over a {leaves}-asset catalog of an anchored {leaves}-leaf log; a fresh "
        f"buyer's fillMerkleListing of leaf {pick}: log proof {depth[0]} hashes, catalog proof "
        f"{depth[1]} hashes, lazy registration "
        "minted to the buyer, ETH payment, royalty pushed to the split receiver (receipt gasUsed)"
    )
    listing_note = (
        "resale of that asset: EIP-712 listing signed with eth-account, fillListing by a second fresh "
        "buyer, royalty to the split receiver, ETH to the seller, ERC-721 transfer (receipt gasUsed)"
    )
    return [
        Figure("market_listing_fill_gas", listing_gas, "gas", 120_000, "<=", listing_note),
        Figure(f"market_merkle_fill_gas_{_k(leaves)}_leaves", merkle_gas, "gas", 220_000, "<=", merkle_note),
    ]


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def run(work: Path) -> list[Figure]:
    return measure(work)
