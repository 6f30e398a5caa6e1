"""The marketplace as a service: sign listings and offers, list a whole campaign with one
signature, buy, accept, cancel, read sales.

Every write checks its preconditions off chain first (chain id, Marketplace address, signature,
expiry on the chain's clock, cancelled or filled order, the price the caller agreed to, the
inclusion of a Merkle-listed asset in its anchored checkpoint and in the listing's catalog) and
refuses by name, so a bad order costs nothing and the journal holds no transaction for it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

from mintloom.errors import (
    ForeignRoot,
    MarketError,
    OrderClosed,
    OrderExpired,
    PriceMismatch,
    UnprovenLeaf,
    WrongChain,
    WrongMarketplace,
)
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.assets import token_id, token_metadata_digest
from mintloom.ledger.client import ChainClient, TxResult
from mintloom.ledger.reader import ChainReader
from mintloom.market.book import OrderTampered, SignedOrder, save_order
from mintloom.market.catalog import (
    CatalogEntry,
    SignedMerkleListing,
    catalog_proof,
    catalog_root,
    proves,
    save_listing,
)
from mintloom.market.orders import (
    Domain,
    Kind,
    MerkleListing,
    Order,
    Side,
    sign_merkle_listing,
    sign_order,
)
from mintloom.provenance.log import TransparencyLog
from mintloom.provenance.merkle import hash_leaf, leaf_data, root_from_inclusion_proof
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import DAG_PB_CODEC, codec_of, digest_of
from mintloom.store.db import Database

MARKET = "Marketplace"
ETH = "0x0000000000000000000000000000000000000000"
CANCELLED = 2**256 - 1
DEFAULT_TTL = 7 * 24 * 3600
_ERC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function", "name": "approve", "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "function", "name": "allowance", "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function", "name": "balanceOf", "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}],
    },
]  # fmt: skip


def domain_of(chain: ChainReader) -> Domain:
    """Where this chain's orders fill."""
    return Domain(chain.chain_id, chain.address_of(MARKET))


def _key(chain: ChainClient) -> str:
    return "0x" + bytes(chain.account.key).hex()


def _expiry(chain: ChainReader, ttl: int) -> int:
    return _chain_time(chain) + ttl


def _chain_time(chain: ChainReader) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


# ----- signing -----------------------------------------------------------------------------------
def list_asset(
    chain: ChainClient, db: Database, cid: str, price: int, *, currency: str = ETH, ttl: int = DEFAULT_TTL
) -> SignedOrder:
    """Sign a listing of the sender's asset ``cid`` (approving the Marketplace once) and keep it."""
    tid = token_id(cid)
    _need_owner(chain, tid, chain.address, cid)
    _approve_assets(chain)
    moved = int(chain.call("CreativeAssets", "transferCountOf", tid))  # the next transfer ends it
    order = Order(
        chain.address, Side.LISTING, Kind.ASSET, tid, moved, 0, 0, 1, to_checksum_address(currency), price,
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    return _keep(chain, db, order)


def make_offer(
    chain: ChainClient,
    db: Database,
    price: int,
    currency: str,
    *,
    cid: str | None = None,
    leaves: tuple[int, int] | None = None,
    ttl: int = DEFAULT_TTL,
) -> SignedOrder:
    """Sign an offer in an ERC-20 on asset ``cid``, or on any asset whose log leaf is in
    ``leaves`` (a campaign), approving the Marketplace for ``price``; keeps it."""
    if currency.lower() == ETH:
        raise MarketError("an offer is paid in an ERC-20 (the Marketplace pulls it)", hint="pass --currency")
    if (cid is None) == (leaves is None):
        raise MarketError("an offer names one asset or one campaign")
    kind, tid, lo, hi = (
        (Kind.ASSET, token_id(cid), 0, 0) if cid else (Kind.ASSET_RANGE, 0, *(leaves or (0, 0)))
    )
    _approve_erc20(chain, currency, price)
    order = Order(
        chain.address, Side.OFFER, kind, tid, 0, lo, hi, 1, to_checksum_address(currency), price,
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    return _keep(chain, db, order)


def _keep(chain: ChainClient, db: Database, order: Order) -> SignedOrder:
    domain = domain_of(chain)
    signed = SignedOrder(order, sign_order(order, domain, _key(chain)), domain)
    save_order(db, signed)
    return signed


def campaign_entries(
    chain: ChainClient, log: TransparencyLog, catalog: Catalog, blobs: BlobStore, campaign: str, *,
    prices: dict[str, int], size: int,
) -> tuple[CatalogEntry, ...]:  # fmt: skip
    """The campaign's assets in checkpoint ``size`` priced by format, else by kind (others unlisted)."""
    names = list(prices)
    out = []
    for a in catalog.assets(campaign):
        name = a.format if a.format in prices else a.kind if a.kind in prices else None
        leaf = log.index_of(a.cid)
        if name is None or leaf is None or leaf >= size:
            continue
        out.append(
            CatalogEntry(a.cid, token_metadata_digest(chain, log, catalog, blobs, a.cid), names.index(name))
        )
    return tuple(out)


def list_campaign(
    chain: ChainClient, db: Database, log: TransparencyLog, blobs: BlobStore, campaign: str, *,
    prices: dict[str, int], terms_id: int = 0, ttl: int = DEFAULT_TTL,
) -> SignedMerkleListing:  # fmt: skip
    """One signature over every asset of ``campaign`` in the latest anchored checkpoint, priced per
    output kind or format; no transaction is sent until someone buys."""
    if not prices or min(prices.values()) <= 0:
        raise MarketError("give a positive price per output kind or format", hint="--price-per image=0.1")
    size = latest_on_chain(chain).size
    entries = campaign_entries(chain, log, Catalog(db), blobs, campaign, prices=prices, size=size)
    listing = MerkleListing(
        chain.address, size, catalog_root(entries), terms_id, ETH, tuple(prices.values()),
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    domain = domain_of(chain)
    signature = sign_merkle_listing(listing, domain, _key(chain))
    signed = SignedMerkleListing(listing, signature, domain, campaign, tuple(prices), entries)
    save_listing(db, signed)
    return signed


# ----- checks ------------------------------------------------------------------------------------
def check_domain(chain: ChainReader, domain: Domain) -> None:
    """The order was signed for this chain and this Marketplace."""
    if domain.chain_id != chain.chain_id:
        raise WrongChain(
            f"the order was signed for chain {domain.chain_id}, this is chain {chain.chain_id}",
            hint="fill it on the chain it was signed for",
        )
    if domain.contract.lower() != chain.address_of(MARKET).lower():
        raise WrongMarketplace(
            f"the order was signed for Marketplace {domain.contract}, not {chain.address_of(MARKET)}",
            hint="ask the signer to sign it for this chain's Marketplace",
        )


def _signer_of(digest: bytes, signature: bytes) -> str:
    """The address that signed ``digest`` (65-byte r ‖ s ‖ v, v = 27 or 28)."""
    try:
        sig = Signature(signature[:64] + bytes([signature[64] - 27]))
        return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())
    except (ValueError, IndexError, BadSignature, ValidationError) as exc:
        raise OrderTampered(f"the order's signature is malformed: {exc}") from exc


def _check_live(
    chain: ChainReader, signer: str, digest: bytes, *, signature: bytes, counter: int, expiry: int
) -> None:
    recovered = _signer_of(digest, signature)
    if recovered.lower() != signer.lower():
        raise OrderTampered(f"the order is not signed by {signer}", hint="ask the signer for the original")
    if expiry <= _chain_time(chain):
        raise OrderExpired(
            f"the order expired at {expiry} (chain time {_chain_time(chain)})", hint="ask for a new one"
        )
    if counter != int(chain.call(MARKET, "counterOf", signer)):
        raise OrderClosed(
            "the signer cancelled all its earlier orders (bulk cancel)", hint="ask for a new one"
        )
    if int(chain.call(MARKET, "filled", digest)) == CANCELLED:
        raise OrderClosed("the order was cancelled by its signer", hint="ask for a new one")


def check_order(chain: ChainReader, signed: SignedOrder, amount: int = 1) -> None:
    """Everything ``Marketplace`` would refuse an order for, checked without sending."""
    check_domain(chain, signed.domain)
    o, h = signed.order, signed.digest
    _check_live(chain, o.signer, h, signature=signed.signature, counter=o.counter, expiry=o.expiry)
    done = int(chain.call(MARKET, "filled", h))
    if done + amount > o.amount:
        raise OrderClosed(f"the order is filled ({done} of {o.amount})", hint="look for another order")


def _check_price(agreed: int | None, price: int) -> None:
    if agreed is not None and agreed != price:
        raise PriceMismatch(
            f"the order asks {price} wei, you agreed to {agreed} wei", hint="check the order before paying"
        )


def _need_owner(chain: ChainReader, tid: int, who: str, what: str) -> None:
    if not chain.call("CreativeAssets", "isRegistered", tid):
        raise OrderClosed(f"{what} is not registered on chain", hint=f"`mintloom register {what}` first")
    owner = str(chain.call("CreativeAssets", "ownerOf", tid))
    if owner.lower() != who.lower():
        raise OrderClosed(f"{what} is held by {owner}, not {who}")


# ----- filling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sale:
    order_hash: str
    token_id: int
    price: int
    tx: TxResult


def buy(chain: ChainClient, signed: SignedOrder, *, agreed_price: int | None = None) -> Sale:
    """Fill listing ``signed`` for the sender, paying its price in ETH (checked first)."""
    o = signed.order
    if o.side is not Side.LISTING or o.kind is not Kind.ASSET or o.currency.lower() != ETH:
        raise MarketError(
            "only ETH listings of one asset are bought here", hint="use `market accept` for offers"
        )
    check_order(chain, signed)
    _check_price(agreed_price, o.unit_price)
    _need_owner(chain, o.token_id, o.signer, hex(o.token_id))
    if o.terms_id != int(chain.call("CreativeAssets", "transferCountOf", o.token_id)):
        raise OrderClosed(
            "the listing ended: its token changed hands after it was signed", hint="ask for a new one"
        )
    h = "0x" + signed.digest.hex()
    tx = chain.transact(
        MARKET, "fillListing", o.as_tuple(), signed.signature, 1, chain.address,
        value=o.unit_price, kind=f"market:fill:{h}",
    )  # fmt: skip
    return Sale(h, o.token_id, o.unit_price, tx)


def accept(chain: ChainClient, signed: SignedOrder, cid: str, *, agreed_price: int | None = None) -> Sale:
    """Sell the sender's asset ``cid`` to offer ``signed`` (its signer pays in its ERC-20)."""
    o = signed.order
    if o.side is not Side.OFFER:
        raise MarketError("this order is a listing, not an offer", hint="use `market buy`")
    check_order(chain, signed)
    _check_price(agreed_price, o.unit_price)
    tid = token_id(cid)
    _need_owner(chain, tid, chain.address, cid)
    _check_offer_token(chain, o, tid, cid)
    _check_funds(chain, o)
    _approve_assets(chain)
    h = "0x" + signed.digest.hex()
    tx = chain.transact(
        MARKET, "acceptOffer", o.as_tuple(), signed.signature, tid, 1, kind=f"market:accept:{h}"
    )
    return Sale(h, tid, o.unit_price, tx)


def _check_offer_token(chain: ChainReader, o: Order, tid: int, cid: str) -> None:
    if o.kind is Kind.ASSET_RANGE:
        leaf = int(chain.call("CreativeAssets", "leafIndexOf", tid))
        if not o.from_leaf <= leaf < o.to_leaf:
            raise OrderClosed(
                f"{cid} (leaf {leaf}) is not in the offer's campaign [{o.from_leaf}, {o.to_leaf})"
            )
    elif tid != o.token_id:
        raise OrderClosed(f"the offer is for token {hex(o.token_id)}, not {cid}")


def _check_funds(chain: ChainReader, o: Order) -> None:
    token = chain.w3.eth.contract(address=to_checksum_address(o.currency), abi=_ERC20_ABI)
    balance = int(token.functions.balanceOf(o.signer).call())
    allowance = int(token.functions.allowance(o.signer, chain.address_of(MARKET)).call())
    if min(balance, allowance) < o.unit_price:
        raise OrderClosed(f"the offerer no longer has {o.unit_price} of {o.currency} approved to pay")


@dataclass(frozen=True)
class MerkleItem:
    """The asset a buyer picks from a Merkle listing, with both proofs (``Marketplace.MerkleItem``)."""

    cid: str
    manifest_hash: bytes
    leaf_index: int
    parent_cid: str | None
    metadata_digest: bytes
    price_class: int
    log_proof: tuple[bytes, ...]
    catalog_proof: tuple[bytes, ...]

    def as_tuple(self) -> tuple[Any, ...]:
        parent = token_id(self.parent_cid) if self.parent_cid else 0
        return (
            digest_of(self.cid), self.manifest_hash, self.leaf_index, codec_of(self.cid) == DAG_PB_CODEC,
            parent, self.metadata_digest, self.price_class, list(self.log_proof), list(self.catalog_proof),
        )  # fmt: skip


def merkle_item(log: TransparencyLog, signed: SignedMerkleListing, cid: str) -> MerkleItem:
    """The item for ``cid``: its log proof against the listing's checkpoint (from this workspace's
    log) and its catalog proof (from the listing's catalog)."""
    found = signed.entry(cid)
    if found is None:
        raise UnprovenLeaf(
            f"{cid} is not in the catalog of this listing", hint="pick an asset the listing lists"
        )
    index, entry = found
    leaf = log.leaf(cid)
    receipt = log.receipt(cid)
    if leaf is None or receipt is None or leaf.index >= signed.listing.checkpoint_size:
        raise UnprovenLeaf(
            f"{cid} is not in this workspace's log at checkpoint {signed.listing.checkpoint_size}"
        )
    proof = tuple(log.inclusion_proof(leaf.index, signed.listing.checkpoint_size))
    return MerkleItem(
        cid, leaf.manifest_hash, leaf.index, receipt.parent, entry.metadata_digest, entry.price_class,
        proof, tuple(catalog_proof(signed.entries, index)),
    )  # fmt: skip


def check_merkle(chain: ChainReader, signed: SignedMerkleListing, item: MerkleItem) -> None:
    """Everything ``fillMerkleListing`` would refuse, checked without sending."""
    check_domain(chain, signed.domain)
    o = signed.listing
    _check_live(
        chain, o.signer, signed.digest, signature=signed.signature, counter=o.counter, expiry=o.expiry
    )
    if item.price_class >= len(o.prices):
        raise ForeignRoot(f"price class {item.price_class} is not one of this listing's")
    leaf = CatalogEntry(item.cid, item.metadata_digest, item.price_class).leaf
    if not proves(o.catalog_root, leaf, list(item.catalog_proof)):
        raise ForeignRoot(
            f"{item.cid}'s catalog proof does not lead to this listing's root (another catalog?)"
        )
    _check_log_proof(chain, o.checkpoint_size, item)
    if chain.call("CreativeAssets", "isRegistered", token_id(item.cid)):
        raise OrderClosed(f"{item.cid} is already sold (registered)", hint="look for a listing by its owner")
    if item.parent_cid and not chain.call("CreativeAssets", "isRegistered", token_id(item.parent_cid)):
        raise UnprovenLeaf(
            f"{item.cid} derives from {item.parent_cid}, not registered yet", hint="the brand registers it"
        )


def _check_log_proof(chain: ChainReader, size: int, item: MerkleItem) -> None:
    data = leaf_data(item.cid, item.manifest_hash, item.parent_cid)
    try:
        root = root_from_inclusion_proof(item.leaf_index, size, hash_leaf(data), list(item.log_proof))
    except Exception as exc:  # a malformed proof (LogError, ValueError) proves nothing
        raise UnprovenLeaf(f"{item.cid}'s log proof is malformed: {exc}") from exc
    anchored = bytes(chain.call("ProvenanceLog", "rootAt", size))
    if root != anchored:
        raise UnprovenLeaf(
            f"{item.cid} is not proven in anchored checkpoint {size}", hint="its log is not the anchored one"
        )


def buy_merkle(
    chain: ChainClient, log: TransparencyLog, signed: SignedMerkleListing, cid: str, *,
    agreed_price: int | None = None, item: MerkleItem | None = None,
) -> Sale:  # fmt: skip
    """Buy asset ``cid`` of Merkle listing ``signed``: minted to the sender and paid, in one transaction."""
    item = item or merkle_item(log, signed, cid)
    check_merkle(chain, signed, item)
    price = signed.listing.prices[item.price_class]
    _check_price(agreed_price, price)
    h = "0x" + signed.digest.hex()
    tx = chain.transact(
        MARKET, "fillMerkleListing", signed.listing.as_tuple(), signed.signature, item.as_tuple(), 1,
        chain.address, value=price, kind=f"market:merkle:{h}:{cid}",
    )  # fmt: skip
    return Sale(h, token_id(cid), price, tx)


# ----- cancelling --------------------------------------------------------------------------------
def cancel(chain: ChainClient, orders: list[SignedOrder]) -> TxResult:
    """Cancel the sender's ``orders`` (one transaction)."""
    for s in orders:
        check_domain(chain, s.domain)
        if s.order.signer.lower() != chain.address.lower():
            raise MarketError(f"order 0x{s.digest.hex()} is signed by {s.order.signer}, not by you")
    tuples = [s.order.as_tuple() for s in orders]
    return chain.transact(
        MARKET, "cancel", tuples, kind="market:cancel:" + ",".join(s.digest.hex()[:16] for s in orders)
    )


def cancel_listing(chain: ChainClient, signed: SignedMerkleListing) -> TxResult:
    check_domain(chain, signed.domain)
    if signed.listing.signer.lower() != chain.address.lower():
        raise MarketError(f"the listing is signed by {signed.listing.signer}, not by you")
    return chain.transact(
        MARKET, "cancelMerkleListing", signed.listing.as_tuple(), kind=f"market:cancel:{signed.digest.hex()}"
    )


def cancel_all(chain: ChainClient) -> int:
    """Bulk cancel: every order the sender signed so far stops filling. Returns the new counter."""
    chain.transact(MARKET, "incrementCounter", kind="market:cancel-all", once=False)
    return int(chain.call(MARKET, "counterOf", chain.address))


# ----- approvals ---------------------------------------------------------------------------------
def _approve_assets(chain: ChainClient) -> None:
    mkt = chain.address_of(MARKET)
    if not chain.call("CreativeAssets", "isApprovedForAll", chain.address, mkt):
        chain.transact(
            "CreativeAssets", "setApprovalForAll", mkt, True, kind="market:approve-assets", once=False
        )


def _approve_erc20(chain: ChainClient, currency: str, amount: int) -> None:
    mkt = chain.address_of(MARKET)
    token = chain.w3.eth.contract(address=to_checksum_address(currency), abi=_ERC20_ABI)
    have = int(token.functions.allowance(chain.address, mkt).call())
    if have < amount:  # the allowance covers this offer; a fill spends only what it pays
        chain.transact_at(
            currency, _ERC20_ABI, "approve", mkt, amount, kind="market:approve-erc20", once=False
        )
