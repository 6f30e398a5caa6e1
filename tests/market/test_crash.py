"""A `mintloom market` write SIGKILLed at each of its phases and run again finishes once.

A real CLI process is killed at a market phase (`market.*` points: checked, approved, signed) or
at a transaction phase (journaled, sent, confirmed but not reported); the rerun completes the
write, nothing is sent twice (one confirmed journal entry and one sale per write, every party paid
once) and the catalog stays consistent (its orders load and hash to their signatures).
"""

from __future__ import annotations

import subprocess

import pytest

from mintloom.ledger.assets import token_id
from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.market.book import load_orders
from mintloom.market.catalog import load_listings
from mintloom.market.history import sales
from mintloom.market.service import CANCELLED, MARKET, buy_merkle, list_asset, make_offer
from tests.cli.runs import KILLED, run_cli
from tests.market.conftest import Market
from tests.market.test_currency_lots import _balance, _token
from tests.market.test_service import _hero, _listed, _sent

pytestmark = [pytest.mark.xdist_group("anvil"), pytest.mark.slow]
TX_POINTS = ("tx-journaled-market", "tx-sent-market", "tx-confirmed-market")


def _cli(m: Market, party: int, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(m.studio.workspace.root, party, *args, crash_at=crash_at)


def _killed_then_rerun(m: Market, party: int, point: str, *args: str) -> str:
    """Kill ``args`` at ``point``, run it again; the rerun's output (it must succeed)."""
    killed = _cli(m, party, *args, crash_at=point)
    assert killed.returncode == KILLED, (point, killed.stdout + killed.stderr)
    rerun = _cli(m, party, *args)
    assert rerun.returncode == 0, (point, rerun.stdout + rerun.stderr)
    return " ".join(rerun.stdout.split())


def _confirmed(m: Market, kind: str) -> int:
    return sum(1 for e in Journal(m.studio.db).entries(m.brand.chain_id, kind) if e.status == CONFIRMED)


def _confirmed_like(m: Market, prefix: str, sender: str) -> int:
    every = Journal(m.studio.db).entries(m.brand.chain_id)
    return sum(1 for e in every if e.kind.startswith(prefix) and e.sender == sender and e.status == CONFIRMED)


def _owner(m: Market, cid: str) -> str:
    return str(m.brand.call("CreativeAssets", "ownerOf", token_id(cid)))


def _catalog_consistent(m: Market) -> None:
    """Every kept order still hashes to what it was signed under (load_* refuse otherwise)."""
    assert load_orders(m.studio.db, m.brand.chain_id) is not None
    assert load_listings(m.studio.db, m.brand.chain_id) is not None


def test_a_buy_killed_at_each_phase_is_bought_once_on_rerun(market: Market) -> None:
    m = market
    hero = _hero(m)
    tid, price = token_id(hero), 10**17
    holder, taker = 5, 6
    buy_merkle(m.party(holder), m.studio.log, _listed(m), hero)
    _, royalty = m.brand.call("CreativeAssets", "royaltyInfo", tid, price)
    for point in ("market.buy.checked", "market.buy.approved", *TX_POINTS):
        listing = list_asset(m.party(holder), m.studio.db, hero, price)
        ref, sold = "0x" + listing.digest.hex(), len(sales(m.brand, tid))
        seller_before = m.brand.w3.eth.get_balance(m.party(holder).address)
        out = _killed_then_rerun(m, taker, point, "market", "buy", ref)
        assert _owner(m, hero) == m.party(taker).address, point
        assert _confirmed(m, f"market:fill:{ref}:1") == 1, point  # sent once
        assert len(sales(m.brand, tid)) == sold + 1, point
        assert m.brand.w3.eth.get_balance(m.party(holder).address) - seller_before == price - royalty, point
        if point in ("tx-sent-market", "tx-confirmed-market"):
            assert "not bought again" in out, (point, out)
        _catalog_consistent(m)
        holder, taker = taker, holder


def test_an_erc20_buy_killed_around_its_approval_pays_once(market: Market) -> None:
    m = market
    hero = _hero(m)
    seller, buyer = m.party(5), m.party(6)
    buy_merkle(seller, m.studio.log, _listed(m), hero)
    token = _token(m, buyer)
    listing = list_asset(seller, m.studio.db, hero, 10**17, currency=token)
    ref = "0x" + listing.digest.hex()
    out = _killed_then_rerun(m, 6, "tx-confirmed-market", "market", "buy", ref)  # the approval, unreported
    assert "bought" in out and _owner(m, hero) == buyer.address
    assert _confirmed_like(m, "market:approve-erc20", buyer.address) == 1
    assert _confirmed(m, f"market:fill:{ref}:1") == 1
    assert _balance(m.brand, token, buyer.address) == 10**21 - 10**17


def test_an_accept_killed_at_each_phase_sells_once_on_rerun(market: Market) -> None:
    m = market
    hero = _hero(m)
    buy_merkle(m.party(5), m.studio.log, _listed(m), hero)
    token = _token(m, m.party(5), m.party(7))
    for p in (5, 7):  # approved up front: the only market transaction of `accept` is the sale
        m.party(p).transact("CreativeAssets", "setApprovalForAll", m.brand.address_of(MARKET), True)
    holder, offerer, price = 5, 7, 10**17
    for point in ("market.accept.checked", "market.accept.approved", *TX_POINTS):
        offer = make_offer(m.party(offerer), m.studio.db, price, token, cid=hero)
        ref = "0x" + offer.digest.hex()
        paid_before = _balance(m.brand, token, m.party(offerer).address)
        out = _killed_then_rerun(m, holder, point, "market", "accept", ref, hero)
        assert _owner(m, hero) == m.party(offerer).address, point
        assert _confirmed(m, f"market:accept:{ref}:{token_id(hero):x}") == 1, point
        assert paid_before - _balance(m.brand, token, m.party(offerer).address) == price, point  # paid once
        if point in ("tx-sent-market", "tx-confirmed-market"):
            assert "not sold again" in out, (point, out)
        _catalog_consistent(m)
        holder, offerer = offerer, holder


def test_list_campaign_and_a_campaign_buy_killed_mid_flight(market: Market) -> None:
    m = market
    sent = _sent(m.brand)
    args = ("market", "list-campaign", "c1", "--price-per", "image=0.1,copy=0.02")
    killed = _cli(m, 0, *args, crash_at="market.list-campaign.signed")
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert load_listings(m.studio.db, m.brand.chain_id) == [] and _sent(m.brand) == sent
    assert _cli(m, 0, *args).returncode == 0
    [listing] = load_listings(m.studio.db, m.brand.chain_id)
    assert _sent(m.brand) == sent  # a campaign listing is a signature, never a transaction
    hero, ref = _hero(m), "0x" + listing.digest.hex()
    out = _killed_then_rerun(m, 6, "tx-sent-market", "market", "buy", ref, "--cid", hero)
    assert "not bought again" in out and _owner(m, hero) == m.party(6).address
    assert _confirmed(m, f"market:merkle:{ref}:{hero}:1") == 1
    assert len(sales(m.brand, token_id(hero))) == 1
    shown = _cli(m, 6, "market", "offers")
    assert shown.returncode == 0 and "(4 assets)" in shown.stdout, shown.stdout + shown.stderr


def test_a_cancel_killed_at_each_phase_cancels_once_on_rerun(market: Market) -> None:
    m = market
    hero = _hero(m)
    buy_merkle(m.party(5), m.studio.log, _listed(m), hero)
    for point in ("market.cancel.checked", *TX_POINTS):
        listing = list_asset(m.party(5), m.studio.db, hero, 10**17)
        ref = "0x" + listing.digest.hex()
        before = _confirmed_like(m, "market:cancel:", m.party(5).address)
        out = _killed_then_rerun(m, 5, point, "market", "cancel", ref)
        assert "cancelled 1 order" in out, (point, out)
        assert int(m.brand.call(MARKET, "filled", listing.digest)) == CANCELLED, point
        assert _confirmed_like(m, "market:cancel:", m.party(5).address) == before + 1, point
        _catalog_consistent(m)
