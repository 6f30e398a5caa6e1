"""The marketplace as a service: sign listings and offers (assets, licence lots, lots of a
family's shares), list a whole campaign with one signature, buy, accept, cancel, read sales.

Every write checks its preconditions off chain first (chain id, Marketplace address, signature,
expiry on the chain's clock, cancelled or filled order, the price the caller agreed to, the
inclusion of a Merkle-listed asset in its anchored checkpoint and in the listing's catalog) and
refuses by name, so a bad order costs nothing and the journal holds no transaction for it.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from web3.exceptions import Web3Exception

from mintloom.errors import (
    ContractError,
    ForeignRoot,
    InsufficientFunds,
    LedgerError,
    MarketError,
    MintloomError,
    NotHolder,
    OrderClosed,
    OrderExpired,
    PriceMismatch,
    ShareTokenCurrency,
    TermsNotAttached,
    UnknownShareToken,
    UnprovenLeaf,
    WrongChain,
    WrongMarketplace,
)
from mintloom.faults import crash_point
from mintloom.governance.licenses import terms_of
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.assets import token_id, token_metadata_digest
from mintloom.ledger.client import ChainClient, TxResult, workspace_lock
from mintloom.ledger.journal import CONFIRMED, PENDING
from mintloom.ledger.reader import ChainReader
from mintloom.market.book import OrderTampered, SignedOrder, load_orders, load_orders_skipping, save_order
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
    price_of,
    share_price,
    share_token_of,
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
MAX_UINT256 = 2**256 - 1
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
    _need_currency(chain, currency)
    _need_price(price)
    _approve_assets(chain)
    moved = int(chain.call("CreativeAssets", "transferCountOf", tid))  # the next transfer ends it
    order = Order(
        chain.address, Side.LISTING, Kind.ASSET, tid, moved, 0, 0, 1, to_checksum_address(currency), price,
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    return _keep(chain, db, order)


def list_licences(
    chain: ChainClient, db: Database, cid: str, terms_id: int, *, quantity: int, unit_price: int,
    currency: str = ETH, ttl: int = DEFAULT_TTL,
) -> SignedOrder:  # fmt: skip
    """Sign a listing of a lot of ``quantity`` licences of ``cid`` under ``terms_id`` that the
    sender holds, sold in parts at ``unit_price`` each (approving the Marketplace once); keeps it."""
    tid = token_id(cid)
    if quantity < 1:
        raise MarketError("a lot holds at least one licence", hint="--quantity 10")
    held = _licences_held(chain, chain.address, tid, terms_id)
    if held < quantity:
        raise NotHolder(f"you hold {held} licence(s) of {cid} under terms {terms_id}, not {quantity}")
    _need_currency(chain, currency)
    _need_price(unit_price)
    _approve_licences(chain)
    order = Order(
        chain.address, Side.LISTING, Kind.LICENCE, tid, terms_id, 0, 0, quantity,
        to_checksum_address(currency), unit_price, _expiry(chain, ttl), secrets.randbits(128),
        int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    return _keep(chain, db, order)


def list_shares(
    chain: ChainClient, db: Database, amount: int, unit_price: int, *, token: str | None = None,
    currency: str = ETH, ttl: int = DEFAULT_TTL,
) -> SignedOrder:  # fmt: skip
    """Sign a listing of a lot of ``amount`` share units (``SHARE_UNIT`` a whole share) of a
    family's share token (default: this chain's) that the sender holds, sold in parts at
    ``unit_price`` wei a whole share. Keeps it, then approves the Marketplace for the open lots
    (kept first: a lot a crash left unapproved is covered by the next rule application), both
    under the share allowance lock (:func:`_share_allowance_lock`)."""
    address = share_token(chain, token)
    if amount < 1:
        raise MarketError("a share lot holds at least one share unit", hint="e.g. `list-shares 300`")
    held = _erc20(chain, address).functions.balanceOf(chain.address).call()
    if int(held) < amount:
        raise NotHolder(f"you hold {held} units of share token {address}, not {amount}")
    _need_uint(share_price(amount, unit_price), "the lot's price")  # the whole lot must price exactly
    _need_currency(chain, currency)
    _need_price(unit_price)
    with _share_allowance_lock(chain, address):
        order = Order(
            chain.address, Side.LISTING, Kind.SHARES, int(address, 16), 0, 0, 0, amount,
            to_checksum_address(currency), unit_price, _expiry(chain, ttl), secrets.randbits(128),
            int(chain.call(MARKET, "counterOf", chain.address)),
        )  # fmt: skip
        signed = _keep(chain, db, order)
        _set_share_allowance(chain, load_orders(db, chain.chain_id, chain.address), address)
    if int(chain.call(MARKET, "counterOf", chain.address)) != order.counter:
        raise MarketError(
            "a `market cancel --all` was mined as this lot was listed: the lot is cancelled with every "
            "order signed before it, and no allowance covers it",
            hint="list it again",
        )
    return signed


def share_token(chain: ChainReader, token: str | None = None) -> str:
    """``token``, default this chain's family ``RoyaltyShares``, if the Marketplace trades it as
    share lots; an arbitrary ERC-20 is refused by name (:class:`UnknownShareToken`)."""
    if token is None:
        if "RoyaltyShares" not in chain.addresses():
            raise UnknownShareToken(
                "this workspace's chain has no family share token", hint="`mintloom dao create` makes one"
            )
        token = chain.address_of("RoyaltyShares")
    try:
        address = to_checksum_address(token)
    except ValueError as exc:
        raise UnknownShareToken(f"not an address: {token!r}", hint="--token 0x… (a family's shares)") from exc
    if not chain.call(MARKET, "isShareToken", address):
        raise UnknownShareToken(
            f"{address} is not a share token this Marketplace trades",
            hint="only a family's RoyaltyShares made by `mintloom dao create` trade as share lots",
        )
    return address


def _erc20(chain: ChainReader, address: str) -> Any:
    return chain.w3.eth.contract(address=to_checksum_address(address), abi=_ERC20_ABI)


def _licences_held(chain: ChainReader, who: str, tid: int, terms_id: int) -> int:
    lid = int(chain.call("LicenseMarket", "licenseIdOf", tid, terms_id))
    return int(chain.call("LicenseMarket", "balanceOf", to_checksum_address(who), lid))


def _need_currency(chain: ChainReader, currency: str) -> None:
    """ETH, or a contract (an ERC-20): a listing in an address without code could never be paid;
    never a share token the Marketplace trades (:class:`ShareTokenCurrency`): its allowance is the
    sender's open share lots, set by one rule (:func:`_set_share_allowance`)."""
    try:
        address = to_checksum_address(currency)
    except ValueError as exc:
        raise MarketError(f"not an address: {currency!r}", hint="--currency 0x… (an ERC-20)") from exc
    if address.lower() == ETH:
        return
    if not chain.w3.eth.get_code(address):
        raise MarketError(f"{address} is no contract on this chain", hint="--currency names an ERC-20")
    if chain.call(MARKET, "isShareToken", address):
        raise ShareTokenCurrency(
            f"{address} is a family's share token, not a currency",
            hint="price in ETH or another ERC-20; shares trade as share lots",
        )


def _need_price(price: int) -> None:
    if price <= 0:
        raise MarketError("a price must be positive", hint="--price 0.1")


def _need_uint(value: int, what: str) -> int:
    """``value`` fits a uint256 (the contract could neither take nor pay more)."""
    if value > MAX_UINT256:
        raise MarketError(f"{what} ({value}) is past 2**256-1", hint="fewer shares or a lower price")
    return value


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
    _need_currency(chain, currency)
    _need_price(price)
    _approve_erc20(chain, currency, price)
    order = Order(
        chain.address, Side.OFFER, kind, tid, 0, lo, hi, 1, to_checksum_address(currency), price,
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    return _keep(chain, db, order)


def offer_shares(
    chain: ChainClient, db: Database, amount: int, unit_price: int, currency: str, *,
    token: str | None = None, ttl: int = DEFAULT_TTL,
) -> SignedOrder:  # fmt: skip
    """Sign an offer to buy ``amount`` share units of a family's share token (default this
    chain's) at ``unit_price`` a whole share in an ERC-20, taken in parts; approves the
    Marketplace for the whole price and keeps it."""
    if currency.lower() == ETH:
        raise MarketError("an offer is paid in an ERC-20 (the Marketplace pulls it)", hint="pass --currency")
    if amount < 1:
        raise MarketError("an offer wants at least one share unit", hint="e.g. `offer-shares 300`")
    price = _need_uint(share_price(amount, unit_price), "the offer's price")
    address = share_token(chain, token)
    _need_currency(chain, currency)
    _need_price(unit_price)
    _approve_erc20(chain, currency, price)
    order = Order(
        chain.address, Side.OFFER, Kind.SHARES, int(address, 16), 0, 0, 0, amount,
        to_checksum_address(currency), unit_price, _expiry(chain, ttl), secrets.randbits(128),
        int(chain.call(MARKET, "counterOf", chain.address)),
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
    prices: dict[str, int], terms_id: int = 0, currency: str = ETH, ttl: int = DEFAULT_TTL,
) -> SignedMerkleListing:  # fmt: skip
    """One signature over every asset of ``campaign`` in the latest anchored checkpoint, priced per
    output kind or format (per licence when ``terms_id`` names licence terms); no transaction is
    sent until someone buys."""
    if not prices or min(prices.values()) <= 0:
        raise MarketError("give a positive price per output kind or format", hint="--price-per image=0.1")
    _need_currency(chain, currency)
    if terms_id:
        _need_terms(chain, terms_id)
    size = latest_on_chain(chain).size
    entries = campaign_entries(chain, log, Catalog(db), blobs, campaign, prices=prices, size=size)
    listing = MerkleListing(
        chain.address, size, catalog_root(entries), terms_id, to_checksum_address(currency),
        tuple(prices.values()),
        _expiry(chain, ttl), secrets.randbits(128), int(chain.call(MARKET, "counterOf", chain.address)),
    )  # fmt: skip
    domain = domain_of(chain)
    signature = sign_merkle_listing(listing, domain, _key(chain))
    signed = SignedMerkleListing(listing, signature, domain, campaign, tuple(prices), entries)
    crash_point("market.list-campaign.signed")
    save_listing(db, signed)
    return signed


def _need_terms(chain: ChainReader, terms_id: int) -> None:
    """Terms a campaign listing sells licences under exist and have not expired."""
    if not chain.call("LicenseTemplates", "exists", terms_id):
        raise TermsNotAttached(f"no licence terms {terms_id} on this chain", hint="`mintloom license terms`")
    expiry = terms_of(chain, terms_id).expiry
    if expiry and expiry <= _chain_time(chain):
        raise TermsNotAttached(f"licence terms {terms_id} expired at {expiry}")


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
    if amount < 1:
        raise MarketError("a quantity is at least 1", hint="--quantity 1")
    done = int(chain.call(MARKET, "filled", h))
    if done + amount > o.amount:
        raise OrderClosed(
            f"the order has {o.amount - done} of {o.amount} left, not {amount}", hint="ask for less"
        )


def _check_price(agreed: int | None, price: int) -> None:
    if agreed is not None and agreed != price:
        raise PriceMismatch(
            f"the order asks {price} wei, you agreed to {agreed} wei", hint="check the order before paying"
        )


def _need_owner(
    chain: ChainReader, tid: int, who: str, what: str, error: type[MarketError] = NotHolder
) -> None:
    if not chain.call("CreativeAssets", "isRegistered", tid):
        raise OrderClosed(f"{what} is not registered on chain", hint=f"`mintloom register {what}` first")
    owner = str(chain.call("CreativeAssets", "ownerOf", tid))
    if owner.lower() != who.lower():
        raise error(f"{what} is held by {owner}, not {who}")


# ----- filling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sale:
    order_hash: str
    token_id: int
    price: int
    tx: TxResult
    quantity: int = 1

    @property
    def resumed(self) -> bool:
        """Sent by an interrupted earlier run and reported now, not sent again."""
        return self.tx.resumed


def _interrupted(chain: ChainClient, kind: str) -> bool:
    """Whether an earlier run of this sender sent this write and died before reporting it: its
    checks passed then, and rechecking now would refuse the write that already filled."""
    mine = (e for e in chain.journal.entries(chain.chain_id, kind) if e.sender == chain.address)
    return any(e.delivered is False and e.status in (PENDING, CONFIRMED) for e in mine)


def buy(
    chain: ChainClient, signed: SignedOrder, *, quantity: int = 1, agreed_price: int | None = None
) -> Sale:
    """Fill listing ``signed`` for the sender: its asset, or ``quantity`` licences of its lot, paid
    in ETH or in its ERC-20 (approved first). ``agreed_price`` is the unit price agreed to."""
    o = signed.order
    if o.side is not Side.LISTING:
        raise MarketError("this order is an offer, not a listing", hint="use `market accept`")
    h, price = "0x" + signed.digest.hex(), price_of(o, quantity)
    kind = f"market:fill:{h}:{quantity}"
    if not _interrupted(chain, kind):
        _check_listing(chain, signed, quantity)
        _check_price(agreed_price, o.unit_price)
        crash_point("market.buy.checked")
        _ready_to_pay(chain, o.currency, price)
        crash_point("market.buy.approved")
    tx = chain.transact(
        MARKET, "fillListing", o.as_tuple(), signed.signature, quantity, chain.address,
        value=_eth_value(o.currency, price), kind=kind, once=False,
    )  # fmt: skip
    return Sale(h, o.token_id, price, tx, quantity)


def _check_listing(chain: ChainReader, signed: SignedOrder, quantity: int) -> None:
    o = signed.order
    if o.kind is Kind.ASSET_RANGE:
        raise MarketError("a campaign-wide order is an offer", hint="use `market accept`")
    if o.kind is Kind.ASSET and quantity != 1:
        raise MarketError("an asset listing sells one token", hint="drop --quantity")
    check_order(chain, signed, quantity)
    if o.kind is Kind.SHARES:
        _check_share_lot(chain, o, quantity)
        return
    if o.kind is Kind.LICENCE:
        held = _licences_held(chain, o.signer, o.token_id, o.terms_id)
        if held < quantity or not chain.call(
            "LicenseMarket", "isApprovedForAll", o.signer, chain.address_of(MARKET)
        ):
            raise OrderClosed(f"the seller no longer holds {quantity} licence(s) of the lot for sale")
        return
    _need_owner(chain, o.token_id, o.signer, hex(o.token_id), OrderClosed)
    if o.terms_id != int(chain.call("CreativeAssets", "transferCountOf", o.token_id)):
        raise OrderClosed(
            "the listing ended: its token changed hands after it was signed", hint="ask for a new one"
        )


def _check_share_lot(chain: ChainReader, o: Order, quantity: int) -> None:
    """The lot's token still trades, the part prices exactly, the seller can still deliver it."""
    address = share_token(chain, share_token_of(o))
    share_price(quantity, o.unit_price)
    token = _erc20(chain, address)
    held = int(token.functions.balanceOf(o.signer).call())
    allowed = int(token.functions.allowance(o.signer, chain.address_of(MARKET)).call())
    if min(held, allowed) < quantity:
        raise OrderClosed(
            f"the seller no longer holds (or lets the Marketplace move) {quantity} units of the lot's shares"
        )


def _eth_value(currency: str, price: int) -> int:
    return price if currency.lower() == ETH else 0


def _ready_to_pay(chain: ChainClient, currency: str, price: int) -> None:
    """An ERC-20 price: the sender holds it and the Marketplace may pull it (approved here)."""
    if currency.lower() == ETH:
        return
    _need_currency(chain, currency)
    token = chain.w3.eth.contract(address=to_checksum_address(currency), abi=_ERC20_ABI)
    balance = int(token.functions.balanceOf(chain.address).call())
    if balance < price:
        raise InsufficientFunds(f"you hold {balance} of {currency}, the price is {price}")
    _approve_erc20(chain, currency, price)


def accept(chain: ChainClient, signed: SignedOrder, cid: str, *, agreed_price: int | None = None) -> Sale:
    """Sell the sender's asset ``cid`` to offer ``signed`` (its signer pays in its ERC-20)."""
    o = signed.order
    if o.side is not Side.OFFER:
        raise MarketError("this order is a listing, not an offer", hint="use `market buy`")
    if o.kind is Kind.LICENCE:
        raise MarketError("offers on licence lots are accepted on chain, not here yet")
    if o.kind is Kind.SHARES:
        raise MarketError("an offer on shares is accepted by amount", hint="use `market accept-shares`")
    tid = token_id(cid)
    if _interrupted(chain, _accept_kind(signed, tid)):
        return _accept_sent(chain, signed, tid)
    check_order(chain, signed)
    _check_price(agreed_price, o.unit_price)
    _need_owner(chain, tid, chain.address, cid)
    _check_offer_token(chain, o, tid, cid)
    _check_funds(chain, o)
    crash_point("market.accept.checked")
    _approve_assets(chain)
    crash_point("market.accept.approved")
    return _accept_sent(chain, signed, tid)


def accept_shares(
    chain: ChainClient, db: Database, signed: SignedOrder, amount: int, *, agreed_price: int | None = None
) -> Sale:
    """Sell ``amount`` of the sender's share units to share offer ``signed`` (its signer pays in
    its ERC-20); the Marketplace's allowance is set to the sender's open lots (from ``db``) plus
    ``amount``, so the sale leaves exactly the lots covered; a refused ``acceptOffer`` sets it back
    to the lots. The share allowance lock is held from the allowance to the sale. Revenue accrued
    stays the sender's."""
    o, h = signed.order, "0x" + signed.digest.hex()
    if o.side is not Side.OFFER or o.kind is not Kind.SHARES:
        raise MarketError("this order is not an offer on shares", hint="use `market accept` or `buy-shares`")
    kind, price = f"market:accept:{h}:{amount}", price_of(o, amount)
    if _interrupted(chain, kind):
        return Sale(h, o.token_id, price, _accept_offer_sent(chain, signed, amount, kind), amount)
    check_order(chain, signed, amount)
    _check_price(agreed_price, o.unit_price)
    address = share_token(chain, share_token_of(o))
    held = int(_erc20(chain, address).functions.balanceOf(chain.address).call())
    if held < amount:
        raise NotHolder(f"you hold {held} units of share token {address}, not {amount}")
    _check_funds(chain, o, price)
    crash_point("market.accept.checked")
    with _share_allowance_lock(chain, address):
        _set_share_allowance(chain, load_orders(db, chain.chain_id, chain.address), address, amount)
        crash_point("market.accept.approved")
        try:
            tx = _accept_offer_sent(chain, signed, amount, kind)
        except ContractError as refused:  # refused (at estimate or on chain): nothing spent the extra
            _restore_share_allowance(chain, db, address, refused)
            raise
    return Sale(h, o.token_id, price, tx, amount)


def _restore_share_allowance(chain: ChainClient, db: Database, token: str, refused: ContractError) -> None:
    """Set the allowance back to the open lots after the Marketplace refused an accept; when that
    fails too, one error says both (the refusal is why nothing sold, and must not be hidden)."""
    try:
        _set_share_allowance(chain, load_orders(db, chain.chain_id, chain.address), token)
    except (Web3Exception, OSError, SQLAlchemyError, MintloomError) as exc:  # whatever it is, not instead
        raise MarketError(
            f"the Marketplace refused the accept ({refused}), and the allowance of share token {token} "
            f"raised for it was not set back: {exc}",
            hint="the next list-shares, accept-shares or cancel of a lot of that token sets it right",
        ) from refused


def _accept_offer_sent(chain: ChainClient, signed: SignedOrder, amount: int, kind: str) -> TxResult:
    o = signed.order
    return chain.transact(
        MARKET, "acceptOffer", o.as_tuple(), signed.signature, o.token_id, amount, kind=kind, once=False
    )


def _accept_sent(chain: ChainClient, signed: SignedOrder, tid: int) -> Sale:
    o, h = signed.order, "0x" + signed.digest.hex()
    tx = chain.transact(
        MARKET,
        "acceptOffer",
        o.as_tuple(),
        signed.signature,
        tid,
        1,
        kind=_accept_kind(signed, tid),
        once=False,
    )
    return Sale(h, tid, o.unit_price, tx)


def _accept_kind(signed: SignedOrder, tid: int) -> str:
    """One accept of an offer with one token (a campaign offer takes any of its assets)."""
    return f"market:accept:0x{signed.digest.hex()}:{tid:x}"


def _check_offer_token(chain: ChainReader, o: Order, tid: int, cid: str) -> None:
    if o.kind is Kind.ASSET_RANGE:
        leaf = int(chain.call("CreativeAssets", "leafIndexOf", tid))
        if not o.from_leaf <= leaf < o.to_leaf:
            raise OrderClosed(
                f"{cid} (leaf {leaf}) is not in the offer's campaign [{o.from_leaf}, {o.to_leaf})"
            )
    elif tid != o.token_id:
        raise OrderClosed(f"the offer is for token {hex(o.token_id)}, not {cid}")


def _check_funds(chain: ChainReader, o: Order, price: int | None = None) -> None:
    """The offerer still holds, and lets the Marketplace pull, ``price`` (default one unit's)."""
    price = o.unit_price if price is None else price
    token = chain.w3.eth.contract(address=to_checksum_address(o.currency), abi=_ERC20_ABI)
    balance = int(token.functions.balanceOf(o.signer).call())
    allowance = int(token.functions.allowance(o.signer, chain.address_of(MARKET)).call())
    if min(balance, allowance) < price:
        raise OrderClosed(f"the offerer no longer has {price} of {o.currency} approved to pay")


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
    registered = bool(chain.call("CreativeAssets", "isRegistered", token_id(item.cid)))
    if o.terms_id:
        _check_licence_terms(chain, o.terms_id, item)
    elif registered:
        raise OrderClosed(f"{item.cid} is already sold (registered)", hint="look for a listing by its owner")
    if registered:
        return
    if item.parent_cid and not chain.call("CreativeAssets", "isRegistered", token_id(item.parent_cid)):
        raise UnprovenLeaf(
            f"{item.cid} derives from {item.parent_cid}, not registered yet", hint="the brand registers it"
        )


def _check_licence_terms(chain: ChainReader, terms_id: int, item: MerkleItem) -> None:
    """The licence a campaign listing sells is attached to the picked asset's leaf, unexpired."""
    _need_terms(chain, terms_id)
    attached = [int(t) for t in chain.call("LicenseMarket", "termsOfLeaf", item.leaf_index)]
    if terms_id not in attached:
        raise TermsNotAttached(
            f"licence terms {terms_id} are not attached to {item.cid} (leaf {item.leaf_index})",
            hint="pick an asset the brand published under these terms",
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
    quantity: int = 1, agreed_price: int | None = None, item: MerkleItem | None = None,
) -> Sale:  # fmt: skip
    """Buy asset ``cid`` of Merkle listing ``signed`` (minted to the sender), or ``quantity``
    licences of it when the listing sells licences (issued to the sender, the asset registered to
    the brand first if need be): proven, issued and paid in one transaction."""
    item = item or merkle_item(log, signed, cid)
    o, h = signed.listing, "0x" + signed.digest.hex()
    if quantity < 1 or (not o.terms_id and quantity != 1):
        raise MarketError(
            f"cannot buy {quantity} of this listing", hint="an asset is sold once; licences ≥ 1"
        )
    price = o.prices[item.price_class] * quantity if item.price_class < len(o.prices) else 0
    kind = f"market:merkle:{h}:{cid}:{quantity}"
    if not _interrupted(chain, kind):
        check_merkle(chain, signed, item)
        _check_price(agreed_price, o.prices[item.price_class])
        crash_point("market.buy.checked")
        _ready_to_pay(chain, o.currency, price)
        crash_point("market.buy.approved")
    tx = chain.transact(
        MARKET, "fillMerkleListing", o.as_tuple(), signed.signature, item.as_tuple(), quantity,
        chain.address, value=_eth_value(o.currency, price), kind=kind, once=False,
    )  # fmt: skip
    return Sale(h, token_id(cid), price, tx, quantity)


# ----- cancelling --------------------------------------------------------------------------------
def cancel(chain: ChainClient, db: Database, orders: list[SignedOrder]) -> TxResult:
    """Cancel the sender's ``orders`` (one transaction); the allowance of each share token they
    list falls to what the sender's remaining open lots need (:func:`_set_share_allowance`)."""
    for s in orders:
        check_domain(chain, s.domain)
        if s.order.signer.lower() != chain.address.lower():
            raise MarketError(f"order 0x{s.digest.hex()} is signed by {s.order.signer}, not by you")
    tuples, tokens = [s.order.as_tuple() for s in orders], _lot_tokens(chain, orders)
    crash_point("market.cancel.checked")
    tx = chain.transact(
        MARKET, "cancel", tuples, kind="market:cancel:" + ",".join(s.digest.hex()[:16] for s in orders)
    )
    crash_point("market.cancel.sent")
    _lower_share_allowances(chain, db, tokens)
    return tx


def cancel_listing(chain: ChainClient, signed: SignedMerkleListing) -> TxResult:
    """Cancel the sender's Merkle listing. It sells assets or licences, never a share lot, so no
    share allowance depends on it (nothing to lower)."""
    check_domain(chain, signed.domain)
    if signed.listing.signer.lower() != chain.address.lower():
        raise MarketError(f"the listing is signed by {signed.listing.signer}, not by you")
    crash_point("market.cancel.checked")
    return chain.transact(
        MARKET, "cancelMerkleListing", signed.listing.as_tuple(), kind=f"market:cancel:{signed.digest.hex()}"
    )


@dataclass(frozen=True)
class BulkCancel:
    """A bulk cancel's outcome: the sender's new counter, and the kept orders whose catalog rows
    no longer hash to their key (skipped: their share tokens' allowances were not read from them)."""

    counter: int
    tampered: tuple[str, ...]


def cancel_all(chain: ChainClient, db: Database) -> BulkCancel:
    """Bulk cancel: every order the sender signed so far stops filling, and the allowance of every
    share token its kept lots on this Marketplace name falls to zero (no lot is open). The lots are
    read before sending, so a tampered catalog row is skipped and reported, never an error after
    the cancel is mined."""
    kept, tampered = load_orders_skipping(db, chain.chain_id, chain.address)
    tokens = _lot_tokens(chain, kept)
    chain.transact(MARKET, "incrementCounter", kind="market:cancel-all", once=False)
    crash_point("market.cancel.sent")
    _lower_share_allowances(chain, db, tokens)
    return BulkCancel(int(chain.call(MARKET, "counterOf", chain.address)), tuple(tampered))


def _lot_tokens(chain: ChainClient, orders: list[SignedOrder]) -> list[str]:
    """The share tokens that ``orders``' share lots (listings) for this chain's Marketplace name and
    the Marketplace trades, each once: a lot kept for another Marketplace or of another ERC-20 has
    no allowance this rule owns."""
    mkt, chain_id = chain.address_of(MARKET).lower(), chain.chain_id
    lots = {
        share_token_of(s.order)
        for s in orders
        if s.order.kind is Kind.SHARES and s.order.side is Side.LISTING
        and s.domain.contract.lower() == mkt and s.domain.chain_id == chain_id
    }  # fmt: skip
    try:
        return sorted(t for t in lots if chain.call(MARKET, "isShareToken", to_checksum_address(t)))
    except (Web3Exception, OSError, LedgerError) as exc:
        raise MarketError(f"could not read which share tokens the Marketplace trades: {exc}") from exc


def _lower_share_allowances(chain: ChainClient, db: Database, tokens: list[str]) -> None:
    """After a cancel is mined: the rule for each of ``tokens``, from the kept lots that still
    hash right (a tampered row is no lot of ours to cover)."""
    for token in tokens:
        try:
            with _share_allowance_lock(chain, token):
                _set_share_allowance(chain, load_orders_skipping(db, chain.chain_id, chain.address)[0], token)
        except (Web3Exception, OSError, LedgerError) as exc:
            raise MarketError(
                f"the cancel is mined, but the allowance of share token {token} was not lowered: {exc}",
                hint="the next list-shares, accept-shares or cancel of a lot of that token sets it right "
                "(cancel --all again would cancel every order signed since, a second time)",
            ) from exc


# ----- approvals ---------------------------------------------------------------------------------
def _approve_assets(chain: ChainClient) -> None:
    mkt = chain.address_of(MARKET)
    if not chain.call("CreativeAssets", "isApprovedForAll", chain.address, mkt):
        chain.transact("CreativeAssets", "setApprovalForAll", mkt, True, kind=_approval_kind(chain, "assets"))


def _approve_erc20(chain: ChainClient, currency: str, amount: int) -> None:
    mkt = chain.address_of(MARKET)
    token = chain.w3.eth.contract(address=to_checksum_address(currency), abi=_ERC20_ABI)
    have = int(token.functions.allowance(chain.address, mkt).call())
    if have < amount:  # the allowance covers this payment; a fill spends only what it pays
        chain.transact_at(currency, _ERC20_ABI, "approve", mkt, amount, kind=_approval_kind(chain, "erc20"))


def _share_allowance_lock(chain: ChainClient, token: str) -> AbstractContextManager[None]:
    """The (chain id, sender, share token) lock, held across the rule's target → approve → keep the
    lot or accept, so another process's list or cancel never sets the allowance from a lot list
    that lacks this write's lot or extra (:func:`workspace_lock`, as deploys do)."""
    name = f"share-allowance:{chain.chain_id}:{chain.address.lower()}:{token.lower()}"
    return workspace_lock(chain, name, name.replace(":", "-") + ".lock")


def _set_share_allowance(chain: ChainClient, orders: list[SignedOrder], token: str, extra: int = 0) -> int:
    """The one rule for the Marketplace's allowance of the sender's share token ``token``: exactly
    what the sender's open lots of it in ``orders`` (its kept orders) still sell plus
    ``extra`` (a lot being listed, or an accept in progress), set absolutely and only when the
    current allowance differs. So a rerun after a crash finds it set and sends nothing; a
    cancelled, expired or sold lot stops counting (the allowance falls); an approval an earlier,
    killed run left is replaced, never stacked on nor trusted. Returns the allowance set."""
    target = _need_uint(_open_lots(chain, orders, token) + extra, "the share allowance")
    mkt = chain.address_of(MARKET)
    if int(_erc20(chain, token).functions.allowance(chain.address, mkt).call()) != target:
        chain.transact_at(token, _ERC20_ABI, "approve", mkt, target, kind=_approval_kind(chain, "shares"))
    return target


def _open_lots(chain: ChainClient, orders: list[SignedOrder], token: str) -> int:
    """Share units the sender's kept (``orders``), still fillable share lots of ``token`` have left."""
    now, counter = _chain_time(chain), int(chain.call(MARKET, "counterOf", chain.address))
    mkt = chain.address_of(MARKET).lower()
    left = 0
    for s in orders:
        o = s.order
        if o.kind is not Kind.SHARES or o.side is not Side.LISTING or o.token_id != int(token, 16):
            continue
        if o.expiry <= now or o.counter != counter or s.domain.contract.lower() != mkt:
            continue
        done = int(chain.call(MARKET, "filled", s.digest))
        left += 0 if done == CANCELLED else max(o.amount - done, 0)
    return left


def _approval_kind(chain: ChainClient, what: str) -> str:
    """A one-time approval named by the sender's next nonce: a rerun after a crash finds the
    allowance set (and skips it) and a later approval of the same amount is a new write."""
    return f"market:approve-{what}:{chain.w3.eth.get_transaction_count(chain.account.address)}"


def _approve_licences(chain: ChainClient) -> None:
    mkt = chain.address_of(MARKET)
    if not chain.call("LicenseMarket", "isApprovedForAll", chain.address, mkt):
        chain.transact(
            "LicenseMarket", "setApprovalForAll", mkt, True, kind=_approval_kind(chain, "licences")
        )
