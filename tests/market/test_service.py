"""The market service on anvil: one signature lists a campaign, a buyer buys through it and
resells through a listing, royalties reach the split; every hostile order is refused by name
before anything is sent (the journal and the sender's nonce are unchanged)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

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
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient
from mintloom.market.book import OrderTampered, SignedOrder
from mintloom.market.catalog import SignedMerkleListing, listing_from_json, load_listings
from mintloom.market.orders import Domain, sign_order
from mintloom.market.service import (
    buy,
    buy_merkle,
    cancel,
    cancel_all,
    list_asset,
    list_campaign,
    merkle_item,
)
from mintloom.store.catalog import Catalog
from tests.market.conftest import CANARY, PRICES, Market

pytestmark = pytest.mark.xdist_group("anvil")
BUYER, RESALE_BUYER = 5, 6


def _sent(chain: ChainClient) -> tuple[int, int]:
    """(journal entries, mined nonce) of ``chain``'s sender: what a refused write must not move."""
    mine = [e for e in chain.journal.entries(chain.chain_id) if e.sender.lower() == chain.address.lower()]
    return len(mine), chain.w3.eth.get_transaction_count(chain.address)


def _refused(chain: ChainClient, error: type[MarketError], write: Callable[[], object]) -> MarketError:
    before = _sent(chain)
    with pytest.raises(error) as info:
        write()
    assert _sent(chain) == before, "a refused order sent something"
    return info.value


def _hero(m: Market, campaign: str = "c1") -> str:
    return next(
        a.cid
        for a in Catalog(m.studio.db).assets(campaign, kind="image")
        if m.studio.log.receipt(a.cid).parent is None
    )  # type: ignore[union-attr]


def _listed(m: Market) -> SignedMerkleListing:
    return list_campaign(m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c1", prices=PRICES)


def test_one_signature_lists_a_campaign_and_a_resale_pays_the_split(market: Market) -> None:
    m = market
    before = _sent(m.brand)
    listing = _listed(m)
    assert _sent(m.brand) == before  # listing a campaign costs one signature, no transaction
    assert {e.price_class for e in listing.entries} == {0, 1} and len(listing.entries) == 4
    buyer, second = m.party(BUYER), m.party(RESALE_BUYER)
    hero = _hero(m)
    sale = buy_merkle(buyer, m.studio.log, listing, hero, agreed_price=PRICES["image"])
    assert sale.price == PRICES["image"]
    assert str(buyer.call("CreativeAssets", "ownerOf", token_id(hero))) == buyer.address
    resale = list_asset(buyer, m.studio.db, hero, 3 * 10**17)
    receiver = str(buyer.call("RoyaltyVault", "royaltyReceiverOf", token_id(hero)))
    r0 = buyer.w3.eth.get_balance(receiver)
    buy(second, resale, agreed_price=3 * 10**17)
    assert str(second.call("CreativeAssets", "ownerOf", token_id(hero))) == second.address
    _, royalty = buyer.call("CreativeAssets", "royaltyInfo", token_id(hero), 3 * 10**17)
    assert royalty > 0 and buyer.w3.eth.get_balance(receiver) - r0 == royalty
    # the filled listing replayed: refused by name, nothing sent
    _refused(second, OrderClosed, lambda: buy(second, resale))
    _refused(m.party(7), OrderClosed, lambda: buy_merkle(m.party(7), m.studio.log, listing, hero))


def test_hostile_listings_are_refused_before_anything_is_sent(market: Market) -> None:
    m = market
    buyer = m.party(BUYER)
    hero = _hero(m)
    buy_merkle(buyer, m.studio.log, _listed(m), hero)
    good = list_asset(buyer, m.studio.db, hero, 10**17)
    key = "0x" + bytes(buyer.account.key).hex()
    other_chain = Domain(good.domain.chain_id + 1, good.domain.contract)
    foreign = SignedOrder(good.order, sign_order(good.order, other_chain, key), other_chain)
    _refused(buyer, WrongChain, lambda: buy(m.party(RESALE_BUYER), foreign))
    elsewhere = Domain(good.domain.chain_id, buyer.address_of("LicenseMarket"))
    moved = SignedOrder(good.order, sign_order(good.order, elsewhere, key), elsewhere)
    second = m.party(RESALE_BUYER)
    _refused(second, WrongMarketplace, lambda: buy(second, moved))
    _refused(second, PriceMismatch, lambda: buy(second, good, agreed_price=10**16))
    cheaper = SignedOrder(dataclasses.replace(good.order, unit_price=1), good.signature, good.domain)
    _refused(second, OrderTampered, lambda: buy(second, cheaper))
    expired_order = dataclasses.replace(good.order, expiry=1)
    expired = SignedOrder(expired_order, sign_order(expired_order, good.domain, key), good.domain)
    _refused(second, OrderExpired, lambda: buy(second, expired))
    cancel(buyer, m.studio.db, [good])
    _refused(second, OrderClosed, lambda: buy(second, good))
    fresh = list_asset(buyer, m.studio.db, hero, 10**17)
    cancel_all(buyer, m.studio.db)  # bulk cancel: the counter moves on
    _refused(second, OrderClosed, lambda: buy(second, fresh))


def test_a_listing_ends_when_its_token_changes_hands(market: Market) -> None:
    """A listing names its token's transfer count: once the token has moved (even back to the
    seller), an older listing of it never sells it again."""
    m = market
    buyer, second = m.party(BUYER), m.party(RESALE_BUYER)
    hero = _hero(m)
    buy_merkle(buyer, m.studio.log, _listed(m), hero)
    first = list_asset(buyer, m.studio.db, hero, 10**17)
    stale = list_asset(buyer, m.studio.db, hero, 10**17)
    buy(second, first)
    buy(buyer, list_asset(second, m.studio.db, hero, 10**17))  # back to the first seller
    assert str(buyer.call("CreativeAssets", "ownerOf", token_id(hero))) == buyer.address
    err = _refused(second, OrderClosed, lambda: buy(second, stale))
    assert "changed hands" in str(err)


def test_hostile_merkle_items_are_refused_before_anything_is_sent(market: Market) -> None:
    m = market
    buyer = m.party(BUYER)
    c1 = _listed(m)
    c2 = list_campaign(m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c2", prices=PRICES)
    hero2 = _hero(m, "c2")
    # an asset of campaign c2 is not in c1's listing; its c2 proofs lead to another root
    _refused(buyer, UnprovenLeaf, lambda: buy_merkle(buyer, m.studio.log, c1, hero2))
    from_c2 = merkle_item(m.studio.log, c2, hero2)
    _refused(buyer, ForeignRoot, lambda: buy_merkle(buyer, m.studio.log, c1, hero2, item=from_c2))
    hero = _hero(m)
    item = merkle_item(m.studio.log, c1, hero)
    forged = dataclasses.replace(item, log_proof=(bytes(32), *item.log_proof[1:]))
    _refused(buyer, UnprovenLeaf, lambda: buy_merkle(buyer, m.studio.log, c1, hero, item=forged))
    cheap = dataclasses.replace(item, price_class=1)  # an image claimed at the copy price
    _refused(buyer, ForeignRoot, lambda: buy_merkle(buyer, m.studio.log, c1, hero, item=cheap))
    _refused(buyer, PriceMismatch, lambda: buy_merkle(buyer, m.studio.log, c1, hero, agreed_price=1))
    variant = next(e.cid for e in c1.entries if e.price_class == 0 and e.cid != hero)
    _refused(buyer, UnprovenLeaf, lambda: buy_merkle(buyer, m.studio.log, c1, variant))  # parent unregistered
    data = c1.to_json()
    data["catalog"][0][2] = 1 - data["catalog"][0][2]  # moved to the other price class
    with pytest.raises(OrderTampered, match="does not hash to its signed root"):
        listing_from_json(data)
    data = c1.to_json()
    data["listing"]["prices"][0][1] = 1  # image
    with pytest.raises(OrderTampered, match="changed after it was signed"):
        listing_from_json(json.loads(json.dumps(data)))


def test_listing_round_trips_through_the_catalog_with_its_price_classes(market: Market) -> None:
    """Price classes are positional: a store that sorts JSON keys must not reorder them."""
    m = market
    listing = list_campaign(
        m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c1", prices={"image": 3, "copy": 1}
    )
    [back] = load_listings(m.studio.db, m.brand.chain_id)
    assert back == listing and back.price_names == ("image", "copy")
    assert listing_from_json(json.loads(json.dumps(listing.to_json(), sort_keys=True))) == listing


def test_no_audience_value_in_orders_or_calldata(market: Market) -> None:
    m = market
    buyer = m.party(BUYER)
    listing = _listed(m)
    hero = _hero(m)
    sale = buy_merkle(buyer, m.studio.log, listing, hero)
    resale = list_asset(buyer, m.studio.db, hero, 10**17)
    tx = buyer.w3.eth.get_transaction(sale.tx.tx_hash)
    blobs = [json.dumps(listing.to_json()), json.dumps(resale.to_json()), bytes(tx["input"]).hex()]
    canary_hex = CANARY.encode().hex()
    for text in blobs:
        assert CANARY not in text and canary_hex not in text
