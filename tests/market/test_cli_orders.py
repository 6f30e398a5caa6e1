"""`mintloom market offer | accept | list --currency | list-licences | buy --quantity |
list-campaign --licence` through the CLI on anvil: happy paths, and each hostile case (expired,
cancelled, not the owner, outside the campaign, more than the lot holds) exits 8 by name and
sends nothing."""

from __future__ import annotations

import dataclasses

import pytest

from mintloom.cli.console import console
from mintloom.errors import NotHolder, OrderClosed, OrderExpired
from mintloom.ledger.assets import token_id
from mintloom.market.book import SignedOrder, load_orders, save_order
from mintloom.market.catalog import SignedMerkleListing, load_listings
from mintloom.market.licensing import buy_license, license_balance
from mintloom.market.orders import sign_order
from mintloom.market.service import buy_merkle, list_campaign
from tests.cli.runs import as_party, exit_code, mintloom
from tests.market.conftest import PRICES, Market
from tests.market.test_currency_lots import REMIX, _balance, _token
from tests.market.test_service import _hero, _listed, _sent

pytestmark = pytest.mark.xdist_group("anvil")
SELLER, OTHER, OFFERER = 5, 6, 7


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables print on one line per row (no wrapped cells to search through)."""
    monkeypatch.setattr(console, "width", 400)


def _only_new(m: Market, signer: int, before: set[str]) -> str:
    mine = load_orders(m.studio.db, m.brand.chain_id, signer=m.party(signer).address)
    [new] = ["0x" + o.digest.hex() for o in mine if "0x" + o.digest.hex() not in before]
    return new


def _hashes(m: Market, signer: int) -> set[str]:
    return {
        "0x" + o.digest.hex() for o in load_orders(m.studio.db, m.brand.chain_id, m.party(signer).address)
    }


def _owner(m: Market, cid: str) -> str:
    return str(m.brand.call("CreativeAssets", "ownerOf", token_id(cid)))


def test_offer_and_accept_one_asset_through_the_cli(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    m = market
    seller, other, offerer = m.party(SELLER), m.party(OTHER), m.party(OFFERER)
    hero = _hero(m)
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    token = _token(m, offerer)
    as_party(monkeypatch, OFFERER)
    before = _hashes(m, OFFERER)
    made = mintloom("market", "offer", "--price", "0.5", "--currency", token, "--cid", hero)
    assert made.exit_code == 0 and "offered" in made.output, made.output
    ref = _only_new(m, OFFERER, before)
    # not the owner: refused by name, nothing sent
    as_party(monkeypatch, OTHER)
    sent = _sent(other)
    assert isinstance(mintloom("market", "accept", ref, hero).exception, NotHolder)
    assert exit_code(monkeypatch, "market", "accept", ref, hero) == 8 and _sent(other) == sent
    # the owner accepts: the token moves, the seller is paid in the ERC-20 less the royalty
    as_party(monkeypatch, SELLER)
    sold = mintloom("market", "accept", ref, hero, "--price", "0.5")
    assert sold.exit_code == 0 and "sold" in sold.output, sold.output
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", token_id(hero), 5 * 10**17)
    assert _owner(m, hero) == offerer.address
    assert _balance(m.brand, token, seller.address) == 5 * 10**17 - royalty
    # accepted once: a replay is refused (the offer is filled)
    as_party(monkeypatch, OFFERER)
    sent = _sent(offerer)
    assert isinstance(mintloom("market", "accept", ref, hero).exception, OrderClosed)
    assert _sent(offerer) == sent


def test_expired_and_cancelled_offers_are_refused_through_the_cli(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market
    seller, offerer = m.party(SELLER), m.party(OFFERER)
    hero = _hero(m)
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    token = _token(m, offerer)
    as_party(monkeypatch, OFFERER)
    assert mintloom("market", "offer", "--price", "0.5", "--currency", token, "--cid", hero).exit_code == 0
    live = next(o for o in load_orders(m.studio.db, m.brand.chain_id, offerer.address))
    stale = dataclasses.replace(live.order, expiry=1, salt=live.order.salt + 1)
    key = "0x" + bytes(offerer.account.key).hex()
    expired = SignedOrder(stale, sign_order(stale, live.domain, key), live.domain)
    save_order(m.studio.db, expired)
    as_party(monkeypatch, SELLER)
    sent = _sent(seller)
    assert isinstance(mintloom("market", "accept", "0x" + expired.digest.hex(), hero).exception, OrderExpired)
    assert exit_code(monkeypatch, "market", "accept", "0x" + expired.digest.hex(), hero) == 8
    assert _sent(seller) == sent
    ref = "0x" + live.digest.hex()
    # only its signer cancels an offer
    assert exit_code(monkeypatch, "market", "cancel", ref) == 8 and _sent(seller) == sent
    as_party(monkeypatch, OFFERER)
    assert mintloom("market", "cancel", ref).exit_code == 0
    shown = mintloom("market", "offers")
    assert "cancelled" in shown.output, shown.output
    as_party(monkeypatch, SELLER)
    assert isinstance(mintloom("market", "accept", ref, hero).exception, OrderClosed)
    assert _sent(seller) == sent and _owner(m, hero) == seller.address


def test_a_collection_wide_offer_through_the_cli_takes_only_its_campaigns_assets(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market
    seller, offerer = m.party(SELLER), m.party(OFFERER)
    hero, hero2 = _hero(m), _hero(m, "c2")
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    c2 = list_campaign(m.brand, m.studio.db, m.studio.log, m.studio.blobs, "c2", prices=PRICES)
    buy_merkle(seller, m.studio.log, c2, hero2)
    token = _token(m, offerer)
    as_party(monkeypatch, OFFERER)
    made = mintloom("market", "offer", "--price", "0.4", "--currency", token, "--campaign", "c1")
    assert made.exit_code == 0, made.output
    [ref] = _hashes(m, OFFERER)
    shown = mintloom("market", "offers")
    assert "leaves" in shown.output and "1 of 1" in shown.output, shown.output
    as_party(monkeypatch, SELLER)
    sent = _sent(seller)
    outside = mintloom("market", "accept", ref, hero2)
    assert isinstance(outside.exception, OrderClosed) and "not in the offer's campaign" in str(
        outside.exception
    )
    assert _sent(seller) == sent
    assert mintloom("market", "accept", ref, hero).exit_code == 0
    assert _owner(m, hero) == offerer.address and _owner(m, hero2) == seller.address


def test_erc20_listing_and_licence_lot_through_the_cli(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market
    seller, buyer = m.party(SELLER), m.party(OTHER)
    hero = _hero(m)
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    buy_license(seller, hero, REMIX, amount=4)
    token = _token(m, buyer)
    as_party(monkeypatch, SELLER)
    before = _hashes(m, SELLER)
    lot = mintloom(
        "market", "list-licences", hero, "--terms", "commercial-remix", "--quantity", "4", "--price", "0.01"
    )
    assert lot.exit_code == 0 and "4 licence(s)" in lot.output, lot.output
    lot_ref = _only_new(m, SELLER, before)
    as_party(monkeypatch, OTHER)
    took = mintloom("market", "buy", lot_ref, "--quantity", "3", "--price", "0.01")
    assert took.exit_code == 0 and "3 ×" in took.output, took.output
    assert license_balance(m.brand, buyer.address, hero, REMIX) == 3
    assert "1 of 4" in mintloom("market", "offers").output
    sent = _sent(buyer)
    assert isinstance(mintloom("market", "buy", lot_ref, "--quantity", "2").exception, OrderClosed)
    assert exit_code(monkeypatch, "market", "buy", lot_ref, "--quantity", "2") == 8 and _sent(buyer) == sent
    # the asset itself, listed in the ERC-20
    as_party(monkeypatch, SELLER)
    before = _hashes(m, SELLER)
    listed = mintloom("market", "list", hero, "--price", "0.3", "--currency", token)
    assert listed.exit_code == 0, listed.output
    as_party(monkeypatch, OTHER)
    bought = mintloom("market", "buy", _only_new(m, SELLER, before), "--price", "0.3")
    assert bought.exit_code == 0, bought.output
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", token_id(hero), 3 * 10**17)
    receiver = str(m.brand.call("RoyaltyVault", "royaltyReceiverOf", token_id(hero)))
    assert _owner(m, hero) == buyer.address and _balance(m.brand, token, receiver) == royalty > 0


def test_a_campaign_listed_with_licence_terms_through_the_cli(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market
    listed = mintloom(
        "market", "list-campaign", "c1", "--price-per", "image=0.1", "--licence", "commercial-remix"
    )
    assert listed.exit_code == 0 and "licences (terms 3)" in listed.output, listed.output
    assert "licences (terms 3)" in mintloom("market", "offers").output
    [listing] = [o for o in _merkle(m) if o.listing.terms_id == REMIX]
    hero = _hero(m)
    as_party(monkeypatch, OTHER)
    bought = mintloom("market", "buy", "0x" + listing.digest.hex(), "--cid", hero, "--quantity", "2")
    assert bought.exit_code == 0, bought.output
    assert license_balance(m.brand, m.party(OTHER).address, hero, REMIX) == 2
    assert _owner(m, hero) == m.brand.address  # registered lazily to the brand, licences to the buyer
    assert (
        exit_code(monkeypatch, "market", "list-campaign", "c1", "--price-per", "image=0.1", "--licence", "99")
        == 8
    )


def _merkle(m: Market) -> list[SignedMerkleListing]:
    return load_listings(m.studio.db, m.brand.chain_id)
