"""A family's shares (RoyaltyShares, ERC-20) trade as marketplace share lots, on anvil: a lot sells
in parts at an exact price per whole share, with no asset royalty, and revenue accrued before a
sale stays with the seller; an arbitrary ERC-20, a price that would round, an overfill, a
cancelled, expired or tampered lot are refused by name and send nothing; the contract itself
refuses what Python would have refused (a forged lot of another ERC-20 sent straight to it)."""

from __future__ import annotations

import random
import secrets
from dataclasses import replace

import pytest

from mintloom.errors import (
    ContractError,
    InexactSharePrice,
    MarketError,
    NotHolder,
    OrderClosed,
    OrderExpired,
    PriceMismatch,
    ShareTokenCurrency,
    UnknownShareToken,
)
from mintloom.governance.licenses import ETH
from mintloom.ledger.client import ChainClient
from mintloom.ledger.node import rpc_call
from mintloom.market.book import OrderTampered, SignedOrder, from_json, load_orders
from mintloom.market.orders import Kind, Order, Side, share_price, sign_order
from mintloom.market.service import (
    MARKET,
    accept_shares,
    buy,
    cancel,
    cancel_all,
    domain_of,
    list_shares,
    offer_shares,
)
from mintloom.studio import Studio
from tests.cli.runs import as_party, exit_code, mintloom, party
from tests.market.conftest import PER_SHARE, SHARE, SHARES, SUPPLY
from tests.market.test_service import _refused, _sent

pytestmark = pytest.mark.xdist_group("anvil")


def _revenue(studio: Studio, wei: int) -> None:
    """ETH revenue reaching the share token (as the family's split pays it), distributed."""
    chain = studio.chain
    to = chain.address_of(SHARES)
    rpc_call(chain.rpc_url, "anvil_setBalance", [to, hex(chain.w3.eth.get_balance(to) + wei)])
    chain.transact(SHARES, "distribute", ETH, kind="test:distribute", once=False)


def test_a_share_lot_sells_in_parts_and_leaves_accrued_revenue_with_the_seller(family: Studio) -> None:
    s, brand = family, family.chain
    first, second = party(s, 5), party(s, 6)
    _revenue(s, 10**17)  # before any sale: all the brand's
    lot = list_shares(brand, s.db, 300 * SHARE, PER_SHARE)
    assert lot.order.kind is Kind.SHARES and int(lot.order.token_id) == int(brand.address_of(SHARES), 16)
    brand_eth = brand.w3.eth.get_balance(brand.address)
    a = buy(first, lot, quantity=100 * SHARE, agreed_price=PER_SHARE)
    b = buy(second, lot, quantity=200 * SHARE, agreed_price=PER_SHARE)
    assert (a.price, b.price) == (10**17, 2 * 10**17)
    assert brand.call(SHARES, "balanceOf", first.address) == 100 * SHARE
    assert brand.call(SHARES, "balanceOf", second.address) == 200 * SHARE
    assert brand.call(SHARES, "balanceOf", brand.address) == 700 * SHARE
    assert brand.w3.eth.get_balance(brand.address) == brand_eth + 3 * 10**17  # no fee, no royalty
    assert brand.call(SHARES, "accrued", brand.address, ETH) == 10**17  # the sale moved none of it
    assert brand.call(SHARES, "accrued", first.address, ETH) == 0
    _revenue(s, 10**17)  # later revenue follows the shares
    assert brand.call(SHARES, "claimable", first.address, ETH) == 10**16
    assert brand.call(SHARES, "claimable", brand.address, ETH) == 10**17 + 7 * 10**16
    fills = [f["args"] for f in brand.event_logs(MARKET, "OrderFilled", {})]
    assert [(f["amount"], f["royalty"]) for f in fills] == [(100 * SHARE, 0), (200 * SHARE, 0)]
    assert a.tx.gas_used < 200_000, a.tx.gas_used  # a share-lot fill (see the report for the figure)
    _refused(first, OrderClosed, lambda: buy(first, lot, quantity=SHARE))  # sold out: no overfill


def test_share_lot_refusals_are_named_and_send_nothing(family: Studio) -> None:
    s, brand = family, family.chain
    buyer = party(s, 5)
    other = str(brand.deploy("TestERC20"))
    brand.transact_at(other, brand.artifact("TestERC20").abi, "mint", brand.address, SUPPLY)
    _refused(brand, UnknownShareToken, lambda: list_shares(brand, s.db, SHARE, PER_SHARE, token=other))
    _refused(brand, NotHolder, lambda: list_shares(brand, s.db, SUPPLY + 1, PER_SHARE))
    _refused(brand, InexactSharePrice, lambda: list_shares(brand, s.db, SHARE // 2, 3))  # 1.5 wei
    lot = list_shares(brand, s.db, 300 * SHARE, 3)  # 3 wei a share: whole shares price exactly
    _refused(buyer, InexactSharePrice, lambda: buy(buyer, lot, quantity=SHARE // 2))
    _refused(buyer, InexactSharePrice, lambda: buy(buyer, lot, quantity=1))  # would round to free
    _refused(buyer, PriceMismatch, lambda: buy(buyer, lot, quantity=SHARE, agreed_price=2))
    _refused(buyer, OrderClosed, lambda: buy(buyer, lot, quantity=301 * SHARE))
    cheaper = replace(lot.order, unit_price=1)
    forged = SignedOrder(cheaper, lot.signature, lot.domain)
    with pytest.raises(OrderTampered):
        from_json(forged.to_json() | {"order_hash": "0x" + lot.digest.hex()})
    _refused(buyer, OrderTampered, lambda: buy(buyer, forged, quantity=SHARE))
    assert buy(buyer, lot, quantity=SHARE).price == 3
    cancel(brand, s.db, [lot])
    _refused(buyer, OrderClosed, lambda: buy(buyer, lot, quantity=SHARE))
    short = list_shares(brand, s.db, SHARE, PER_SHARE, ttl=5)
    rpc_call(brand.rpc_url, "evm_increaseTime", [10])
    rpc_call(brand.rpc_url, "evm_mine")
    _refused(buyer, OrderExpired, lambda: buy(buyer, short, quantity=SHARE))


def test_the_contract_refuses_a_lot_of_an_erc20_it_does_not_trade(family: Studio) -> None:
    """Python checks nothing here: a lot of an arbitrary ERC-20, signed and sent straight to the
    Marketplace, reverts with UnknownShareToken and moves nothing."""
    s, brand = family, family.chain
    buyer = party(s, 5)
    other = str(brand.deploy("TestERC20"))
    abi = brand.artifact("TestERC20").abi
    brand.transact_at(other, abi, "mint", brand.address, SUPPLY)
    brand.transact_at(other, abi, "approve", brand.address_of(MARKET), SUPPLY)
    expiry = int(brand.w3.eth.get_block("latest")["timestamp"]) + 3600
    order = Order(
        brand.address, Side.LISTING, Kind.SHARES, int(other, 16), 0, 0, 0, SUPPLY, ETH, PER_SHARE,
        expiry, secrets.randbits(128), 0,
    )  # fmt: skip
    sig = sign_order(order, domain_of(brand), "0x" + bytes(brand.account.key).hex())
    with pytest.raises(ContractError) as info:
        buyer.transact(
            MARKET, "fillListing", order.as_tuple(), sig, SHARE, buyer.address, value=PER_SHARE,
            kind="test:forged-lot",
        )  # fmt: skip
    assert info.value.error_name == "UnknownShareToken"
    assert int(buyer.w3.eth.contract(address=buyer.w3.to_checksum_address(other), abi=abi)
               .functions.balanceOf(buyer.address).call()) == 0  # fmt: skip


def test_a_share_token_is_refused_as_a_price_currency_and_nothing_is_sent(family: Studio) -> None:
    """The share token's Marketplace allowance is the seller's open lots (one rule sets it): an
    offer, listing or ERC-20 purchase priced in it used to be taken (and approved, or cut back by
    the next lot's rule), so one of the two would fail on chain."""
    s, brand = family, family.chain
    shares = brand.address_of(SHARES)
    buyer = party(s, 5)
    brand.transact(SHARES, "transfer", buyer.address, 50 * SHARE, kind="test:give-shares")
    _refused(brand, ShareTokenCurrency, lambda: list_shares(brand, s.db, SHARE, PER_SHARE, currency=shares))
    _refused(buyer, ShareTokenCurrency, lambda: offer_shares(buyer, s.db, SHARE, SHARE, shares))
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)  # covers the hand-signed lot below
    expiry = int(brand.w3.eth.get_block("latest")["timestamp"]) + 3600
    priced_in_shares = Order(
        brand.address, Side.LISTING, Kind.SHARES, int(shares, 16), 0, 0, 0, SHARE, shares, SHARE,
        expiry, secrets.randbits(128), int(brand.call(MARKET, "counterOf", brand.address)),
    )  # fmt: skip
    domain = domain_of(brand)
    lot = SignedOrder(priced_in_shares, sign_order(priced_in_shares, domain, _key(brand)), domain)
    _refused(buyer, ShareTokenCurrency, lambda: buy(buyer, lot, quantity=SHARE))


def test_python_share_prices_equal_the_contract(family: Studio) -> None:
    """The price Python asks for and the one Marketplace.sharePrice charges agree, and both
    refuse the same inexact parts (fuzzed over amounts and prices, with fixed edge cases)."""
    chain, rng = family.chain, random.Random(16)
    cases = [(1, 3), (SHARE // 2, 3), (SHARE, 3), (3 * SHARE // 2, 2), (SUPPLY, PER_SHARE), (7, 10**18)]
    units = (1, 3, 10**9, 10**15, rng.randrange(1, 10**20))
    cases += [(rng.randrange(1, SUPPLY), rng.choice(units)) for _ in range(20)]
    for amount, unit in cases:
        try:
            expected: int | None = share_price(amount, unit)
        except InexactSharePrice:
            expected = None
        if expected is None:
            with pytest.raises(ContractError) as info:
                chain.call(MARKET, "sharePrice", amount, unit)
            assert info.value.error_name == "InexactSharePrice", (amount, unit)
        else:
            assert chain.call(MARKET, "sharePrice", amount, unit) == expected, (amount, unit)
    assert sum(1 for a, u in cases if a * u % SHARE) >= 2  # both branches ran


def test_a_share_offer_is_sold_into_in_parts(family: Studio) -> None:
    s, brand = family, family.chain
    bidder, empty = party(s, 5), party(s, 6)
    usd = str(brand.deploy("TestERC20"))
    abi = brand.artifact("TestERC20").abi
    brand.transact_at(usd, abi, "mint", bidder.address, 10**21)
    coin = brand.w3.eth.contract(address=brand.w3.to_checksum_address(usd), abi=abi)
    offer = offer_shares(bidder, s.db, 100 * SHARE, 2 * 10**18, usd)  # 2 tokens a share
    _refused(empty, NotHolder, lambda: accept_shares(empty, s.db, offer, 10 * SHARE))
    _refused(brand, PriceMismatch, lambda: accept_shares(brand, s.db, offer, 10 * SHARE, agreed_price=1))
    huge = 2**200 * SHARE  # units that fit a uint256, at a price whose total does not
    past = _refused(bidder, MarketError, lambda: offer_shares(bidder, s.db, huge, 2**60 * SHARE, usd))
    assert "past 2**256-1" in past.message, past.message
    accept_shares(brand, s.db, offer, 40 * SHARE, agreed_price=2 * 10**18)
    accept_shares(brand, s.db, offer, 60 * SHARE)
    assert brand.call(SHARES, "balanceOf", bidder.address) == 100 * SHARE
    assert int(coin.functions.balanceOf(brand.address).call()) == 200 * 10**18  # no fee, no royalty
    _refused(brand, OrderClosed, lambda: accept_shares(brand, s.db, offer, SHARE))  # wanted no more


def _key(chain: ChainClient) -> str:
    return "0x" + bytes(chain.account.key).hex()


def _allowance(chain: ChainClient) -> int:
    return int(chain.call(SHARES, "allowance", chain.address, chain.address_of(MARKET)))


def _approve(chain: ChainClient, units: int) -> None:
    """The seller sets its share allowance by hand (another tool, an old mintloom)."""
    chain.transact(SHARES, "approve", chain.address_of(MARKET), units, kind="test:approve", once=False)


def test_listing_and_accepting_set_the_allowance_to_exactly_the_open_lots(family: Studio) -> None:
    """One rule for `list-shares` and `accept-shares`: the allowance becomes the open lots (plus
    what the write itself needs), whatever it was. The old listing rule only ever raised it (a
    stale 1000 stayed) and the old accept rule added the amount to whatever was there (a stale
    999 stayed, a stale 0 left the lot uncovered after the sale)."""
    s, brand = family, family.chain
    usd = str(brand.deploy("TestERC20"))
    bidder = party(s, 5)
    brand.transact_at(usd, brand.artifact("TestERC20").abi, "mint", bidder.address, 10**24)
    offer = offer_shares(bidder, s.db, 100 * SHARE, 10**18, usd)
    _approve(brand, 1000 * SHARE)
    lot = list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    assert _allowance(brand) == 10 * SHARE
    for stale in (999 * SHARE, 0):
        _approve(brand, stale)
        accept_shares(brand, s.db, offer, 5 * SHARE)
        assert _allowance(brand) == 10 * SHARE, stale  # the lot, no more, no less
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    approvals = [e for e in brand.journal.entries(brand.chain_id) if e.kind.startswith("market:approve")]
    again = list_shares(brand, s.db, SHARE, PER_SHARE)
    assert _allowance(brand) == 21 * SHARE
    assert buy(party(s, 6), lot, quantity=10 * SHARE).price == 10 * PER_SHARE
    assert _allowance(brand) == 11 * SHARE  # a fill spends exactly its part
    cancel(brand, s.db, [again])
    assert _allowance(brand) == 10 * SHARE
    newer = [e for e in brand.journal.entries(brand.chain_id) if e.kind.startswith("market:approve")]
    assert len(newer) == len(approvals) + 2  # one approval per change of the open lots, none per fill


def test_cancelling_share_lots_lowers_the_allowance(family: Studio) -> None:
    """A cancelled lot stops counting at once (it used to stay approved until the next listing),
    and a bulk cancel leaves nothing approved; a lot listed afterwards gets exactly its amount."""
    s, brand = family, family.chain
    a = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    b = list_shares(brand, s.db, 50 * SHARE, PER_SHARE)
    buy(party(s, 5), a, quantity=20 * SHARE)
    assert _allowance(brand) == 130 * SHARE
    cancel(brand, s.db, [a])
    assert _allowance(brand) == 50 * SHARE
    assert buy(party(s, 5), b, quantity=50 * SHARE).quantity == 50 * SHARE  # b still covered
    list_shares(brand, s.db, 70 * SHARE, PER_SHARE)
    cancel_all(brand, s.db)
    assert _allowance(brand) == 0
    list_shares(brand, s.db, 5 * SHARE, PER_SHARE)
    assert _allowance(brand) == 5 * SHARE


# ----- the CLI -----------------------------------------------------------------------------------
def test_market_cli_lists_and_buys_shares(family: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    s, brand = family, family.chain
    listed = mintloom("market", "list-shares", "300", "--price", "0.001")
    assert listed.exit_code == 0 and "300 share(s) at 0.001 ETH a share" in listed.output, listed.output
    [lot] = [o for o in load_orders(s.db, brand.chain_id) if o.order.kind is Kind.SHARES]
    shown = mintloom("market", "offers")
    assert "share(s)" in shown.output and "300 of 300" in shown.output, shown.output
    as_party(monkeypatch, 5)
    ref = "0x" + lot.digest.hex()[:12]
    bought = mintloom("market", "buy-shares", ref, "12.5", "--price", "0.001")
    assert bought.exit_code == 0 and "12.5 share(s) for 0.0125 ETH" in bought.output, bought.output
    assert brand.call(SHARES, "balanceOf", party(s, 5).address) == 12 * SHARE + SHARE // 2
    buyer = party(s, 5)
    before = _sent(buyer)
    assert exit_code(monkeypatch, "market", "buy-shares", ref, "0.0000000000000000001") == 8  # not a unit
    assert exit_code(monkeypatch, "market", "buy-shares", ref, "1", "--price", "0.002") == 8  # PriceMismatch
    assert exit_code(monkeypatch, "market", "buy-shares", ref, "288") == 8  # 287.5 left: refused
    assert _sent(buyer) == before
    as_party(monkeypatch, 0)
    other = str(brand.deploy("TestERC20"))
    assert exit_code(monkeypatch, "market", "list-shares", "1", "--price", "0.001", "--token", other) == 8

    brand.transact_at(other, brand.artifact("TestERC20").abi, "mint", buyer.address, 10**21)
    as_party(monkeypatch, 5)  # the buyer now bids for more
    offered = mintloom("market", "offer-shares", "10", "--price", "2", "--currency", other)
    assert offered.exit_code == 0 and "a share for 10" in " ".join(offered.output.split()), offered.output
    [bid] = [o for o in load_orders(s.db, brand.chain_id) if o.order.side.name == "OFFER"]
    as_party(monkeypatch, 0)
    sold = mintloom("market", "accept-shares", "0x" + bid.digest.hex()[:12], "4", "--price", "2")
    assert sold.exit_code == 0 and "sold 4 share(s)" in " ".join(sold.output.split()), sold.output
    assert brand.call(SHARES, "balanceOf", buyer.address) == 16 * SHARE + SHARE // 2
