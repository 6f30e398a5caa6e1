"""ERC-20 listings, licence lots sold in parts and campaign listings of licences, on anvil: the
royalty reaches the asset's split in the currency paid (and is claimable there), a lot never sells
more than it holds, a licence is issued only under terms attached to the asset; every refusal is
named and sends nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.errors import InsufficientFunds, MarketError, NotHolder, OrderClosed, TermsNotAttached
from mintloom.governance.royalties import claim, claimable
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient
from mintloom.market.licensing import buy_license, license_balance
from mintloom.market.service import buy, buy_merkle, list_asset, list_campaign, list_licences
from tests.api.access import bearer
from tests.market.conftest import PRICES, Market
from tests.market.test_service import _hero, _listed, _refused, _sent

pytestmark = pytest.mark.xdist_group("anvil")
REMIX = 3  # commercial-remix: the terms the sample campaign attaches to its images
USE = 2  # commercial-use: attached to its copy


def _token(m: Market, *holders: ChainClient) -> str:
    """A fresh test ERC-20, 1000 units minted to each holder."""
    token = m.brand.deploy("TestERC20")
    for h in holders:
        m.brand.transact_at(token, m.brand.artifact("TestERC20").abi, "mint", h.address, 10**21)
    return str(token)


def _balance(chain: ChainClient, token: str, who: str) -> int:
    c = chain.w3.eth.contract(
        address=chain.w3.to_checksum_address(token), abi=chain.artifact("TestERC20").abi
    )
    return int(c.functions.balanceOf(chain.w3.to_checksum_address(who)).call())


def test_an_erc20_resale_pays_the_split_in_the_token_and_the_split_claims_it(market: Market) -> None:
    m = market
    seller, buyer, broke = m.party(5), m.party(6), m.party(7)
    hero, tid = _hero(m), token_id(_hero(m))
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    token = _token(m, buyer)
    price = 3 * 10**17
    _refused(
        seller, MarketError, lambda: list_asset(seller, m.studio.db, hero, price, currency=seller.address)
    )
    listing = list_asset(seller, m.studio.db, hero, price, currency=token)
    _refused(broke, InsufficientFunds, lambda: buy(broke, listing))  # holds none of the token
    receiver = str(m.brand.call("RoyaltyVault", "royaltyReceiverOf", tid))
    eth_before = m.brand.w3.eth.get_balance(seller.address)
    buy(buyer, listing, agreed_price=price)
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", tid, price)
    assert str(m.brand.call("CreativeAssets", "ownerOf", tid)) == buyer.address
    assert royalty > 0 and _balance(m.brand, token, receiver) == royalty
    assert _balance(m.brand, token, seller.address) == price - royalty
    assert _balance(m.brand, token, buyer.address) == 10**21 - price
    assert m.brand.w3.eth.get_balance(seller.address) == eth_before  # paid in the token, not ETH
    split = int(m.brand.call("RoyaltyVault", "splitOfToken", tid))
    payees, _ = m.brand.call("RoyaltyVault", "split", split)
    owed = {p: claimable(m.brand, p, token) for p in payees}
    m.brand.transact("RoyaltyVault", "flush", split, token)
    gained = {p: claimable(m.brand, p, token) - owed[p] for p in payees}
    assert sum(gained.values()) == royalty and _balance(m.brand, token, receiver) == 0
    assert m.brand.address in payees
    mine = claimable(m.brand, m.brand.address, token)
    claim(m.brand, token)
    assert _balance(m.brand, token, m.brand.address) == mine > 0


def test_a_licence_lot_sells_in_parts_and_never_more_than_it_holds(market: Market) -> None:
    m = market
    holder, first, second = m.party(5), m.party(6), m.party(7)
    hero = _hero(m)
    buy_merkle(holder, m.studio.log, _listed(m), hero)
    buy_license(holder, hero, REMIX, amount=5)
    _refused(
        holder,
        NotHolder,
        lambda: list_licences(holder, m.studio.db, hero, REMIX, quantity=6, unit_price=10**16),
    )
    lot = list_licences(holder, m.studio.db, hero, REMIX, quantity=5, unit_price=10**16)
    receiver = str(m.brand.call("RoyaltyVault", "royaltyReceiverOf", token_id(hero)))
    r0 = m.brand.w3.eth.get_balance(receiver)
    sale = buy(first, lot, quantity=2, agreed_price=10**16)
    assert sale.price == 2 * 10**16 and license_balance(m.brand, first.address, hero, REMIX) == 2
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", token_id(hero), 2 * 10**16)
    assert royalty > 0 and m.brand.w3.eth.get_balance(receiver) - r0 == royalty
    with TestClient(create_app(m.studio, offline=True), headers=bearer(m.studio.db)) as client:
        [shown] = [o for o in client.get("/market/listings").json()["listings"] if o["kind"] == "licence"]
        assert (shown["amount"], shown["remaining"], shown["state"]) == (5, 3, "open")
    err = _refused(second, OrderClosed, lambda: buy(second, lot, quantity=4))
    assert "3 of 5 left" in str(err)
    buy(second, lot, quantity=3)
    assert license_balance(m.brand, second.address, hero, REMIX) == 3
    assert license_balance(m.brand, holder.address, hero, REMIX) == 0
    _refused(second, OrderClosed, lambda: buy(second, lot))  # sold out
    _refused(second, MarketError, lambda: buy(second, lot, quantity=0))
    # a lot whose seller gave its licences away meanwhile is refused before paying
    relisted = list_licences(second, m.studio.db, hero, REMIX, quantity=3, unit_price=10**16)
    lid = int(m.brand.call("LicenseMarket", "licenseIdOf", token_id(hero), REMIX))
    second.transact("LicenseMarket", "safeTransferFrom", second.address, holder.address, lid, 2, b"")
    err = _refused(first, OrderClosed, lambda: buy(first, relisted, quantity=2))
    assert "no longer holds" in str(err)


def test_a_campaign_listing_of_licences_issues_them_lazily_under_attached_terms(market: Market) -> None:
    m = market
    buyer, second = m.party(5), m.party(6)
    _refused(m.brand, TermsNotAttached, lambda: list_campaign(
        m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c1", prices=PRICES, terms_id=99
    ))  # fmt: skip
    before = _sent(m.brand)
    listing = list_campaign(
        m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c1", prices=PRICES, terms_id=REMIX
    )
    assert _sent(m.brand) == before and listing.listing.terms_id == REMIX
    hero, tid = _hero(m), token_id(_hero(m))
    assert not m.brand.call("CreativeAssets", "isRegistered", tid)
    receiver = str(m.brand.call("RoyaltyVault", "royaltyReceiverOfLeaf", m.studio.log.index_of(hero)))
    r0 = m.brand.w3.eth.get_balance(receiver)
    sale = buy_merkle(buyer, m.studio.log, listing, hero, quantity=2, agreed_price=PRICES["image"])
    assert sale.price == 2 * PRICES["image"]
    assert license_balance(m.brand, buyer.address, hero, REMIX) == 2
    assert str(m.brand.call("CreativeAssets", "ownerOf", tid)) == m.brand.address  # registered to the brand
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", tid, sale.price)
    assert royalty > 0 and m.brand.w3.eth.get_balance(receiver) - r0 == royalty
    buy_merkle(second, m.studio.log, listing, hero)  # already registered: the licence is still sold
    assert license_balance(m.brand, second.address, hero, REMIX) == 1
    copy = next(e.cid for e in listing.entries if e.price_class == 1)  # copy carries commercial-use
    _refused(second, TermsNotAttached, lambda: buy_merkle(second, m.studio.log, listing, copy))
    sold = _listed(m)  # an asset listing sells one asset, never a quantity
    _refused(second, MarketError, lambda: buy_merkle(second, m.studio.log, sold, hero, quantity=2))


def test_an_erc20_campaign_listing_is_paid_in_the_token(market: Market) -> None:
    m = market
    buyer = m.party(5)
    token = _token(m, buyer)
    listing = list_campaign(
        m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c1", prices=PRICES, currency=token
    )
    hero, tid = _hero(m), token_id(_hero(m))
    eth0 = m.brand.w3.eth.get_balance(buyer.address)
    buy_merkle(buyer, m.studio.log, listing, hero)
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", tid, PRICES["image"])
    receiver = str(m.brand.call("RoyaltyVault", "royaltyReceiverOf", tid))
    assert _balance(m.brand, token, buyer.address) == 10**21 - PRICES["image"]
    assert _balance(m.brand, token, receiver) == royalty > 0
    assert _balance(m.brand, token, m.brand.address) == PRICES["image"] - royalty
    spent = eth0 - m.brand.w3.eth.get_balance(buyer.address)
    assert 0 < spent < PRICES["copy"]  # gas only: no ETH price was paid
