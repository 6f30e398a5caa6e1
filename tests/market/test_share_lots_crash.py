"""`mintloom market buy-shares|accept-shares|list-shares|cancel` SIGKILLed at each of its phases
(checked, approved, journaled, sent, confirmed but not reported) and run again does its write once:
the shares moved, the lot's filled amount and the seller's ETH each count every part exactly once,
and the seller's share allowance ends at exactly what its open lots need, even when another
listing or a cancel came between the killed run and its rerun."""

from __future__ import annotations

import subprocess

import pytest

from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.market.book import load_orders
from mintloom.market.service import MARKET, buy, list_shares, offer_shares
from mintloom.studio import Studio
from tests.cli.runs import KILLED, party, run_cli
from tests.market.conftest import PER_SHARE, SHARE, SHARES

pytestmark = [pytest.mark.xdist_group("anvil"), pytest.mark.slow]
POINTS = ("market.buy.checked", "market.buy.approved", "tx-journaled-market", "tx-sent-market")
POINTS += ("tx-confirmed-market",)
BUYER = 5


def _cli(
    s: Studio, *args: str, crash_at: str | None = None, key: int = BUYER
) -> subprocess.CompletedProcess[str]:
    return run_cli(s.workspace.root, key, *args, crash_at=crash_at)


def test_a_share_buy_killed_at_each_phase_buys_once_on_rerun(family: Studio) -> None:
    s, brand = family, family.chain
    lot = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    ref = "0x" + lot.digest.hex()
    buyer = party(s, BUYER).address
    seller_eth = brand.w3.eth.get_balance(brand.address)
    bought = 0
    for n, point in enumerate(POINTS, start=1):  # n whole shares at each point: each part is told apart
        killed = _cli(s, "market", "buy-shares", ref, str(n), crash_at=point)
        assert killed.returncode == KILLED, (point, killed.stdout + killed.stderr)
        rerun = _cli(s, "market", "buy-shares", ref, str(n))
        assert rerun.returncode == 0, (point, rerun.stdout + rerun.stderr)
        bought += n * SHARE
        assert brand.call(SHARES, "balanceOf", buyer) == bought, point
        assert int(brand.call(MARKET, "filled", lot.digest)) == bought, point
        kind = f"market:fill:{ref}:{n * SHARE}"
        done = [e for e in Journal(s.db).entries(brand.chain_id, kind) if e.status == CONFIRMED]
        assert len(done) == 1, (point, done)
    assert brand.w3.eth.get_balance(brand.address) == seller_eth + bought * PER_SHARE // SHARE


ACCEPT_POINTS = ("market.accept.checked", "tx-journaled-market", "tx-sent-market", "tx-confirmed-market")
ACCEPT_POINTS += ("market.accept.approved", "tx-journaled-market:2", "tx-sent-market:2")
ACCEPT_POINTS += ("tx-confirmed-market:2",)


def test_a_share_accept_killed_at_each_phase_approves_once_and_sells_once(family: Studio) -> None:
    """The seller's allowance after each killed-and-rerun accept is exactly what its open lot
    still needs: the rerun finds the approval its dead run sent and sends no second one (it
    used to approve the allowance plus the amount again, each crash adding the amount)."""
    s, brand = family, family.chain
    bidder = party(s, BUYER)
    usd = str(brand.deploy("TestERC20"))
    brand.transact_at(usd, brand.artifact("TestERC20").abi, "mint", bidder.address, 10**24)
    offer = offer_shares(bidder, s.db, 500 * SHARE, 10**18, usd)
    lot = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)  # the seller's own open lot: 100 reserved
    ref, mkt = "0x" + offer.digest.hex(), brand.address_of(MARKET)
    sold = 0
    for n, point in enumerate(ACCEPT_POINTS, start=1):
        approvals = _approvals(s, brand.chain_id)
        killed = _cli(s, "market", "accept-shares", ref, str(n), crash_at=point, key=0)
        assert killed.returncode == KILLED, (point, killed.stdout + killed.stderr)
        rerun = _cli(s, "market", "accept-shares", ref, str(n), key=0)
        assert rerun.returncode == 0, (point, rerun.stdout + rerun.stderr)
        sold += n * SHARE
        assert brand.call(SHARES, "balanceOf", bidder.address) == sold, point
        assert brand.call(SHARES, "allowance", brand.address, mkt) == 100 * SHARE, point
        assert _approvals(s, brand.chain_id) == approvals + 1, point  # one approval per accept
    assert int(brand.call(MARKET, "filled", offer.digest)) == sold
    assert int(brand.call(MARKET, "filled", lot.digest)) == 0


def _approvals(s: Studio, chain_id: int) -> int:
    return sum("approve" in e.kind for e in Journal(s.db).entries(chain_id) if e.status == CONFIRMED)


def test_a_share_listing_killed_after_its_approval_approves_once(family: Studio) -> None:
    """`list-shares` killed once its approval is mined, then rerun: the killed run kept its lot
    before approving it (a kept lot is always covered by the next rule application), so the rerun
    lists a second lot and the allowance is exactly both (it used to stack a second approval on
    an unkept lot); a cancelled lot's allowance is reused."""
    s, brand = family, family.chain
    mkt, approvals = brand.address_of(MARKET), _approvals(s, brand.chain_id)
    killed = _cli(s, "market", "list-shares", "40", "--price", "0.001", crash_at="tx-confirmed-market", key=0)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert [o.order.amount for o in load_orders(s.db, brand.chain_id, brand.address)] == [40 * SHARE]
    rerun = _cli(s, "market", "list-shares", "40", "--price", "0.001", key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert len(load_orders(s.db, brand.chain_id, brand.address)) == 2
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 80 * SHARE
    assert _approvals(s, brand.chain_id) == approvals + 2  # one a change of the open lots
    lot = list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 90 * SHARE
    brand.transact(MARKET, "cancel", [lot.order.as_tuple()], kind="test:cancel")
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)  # takes the cancelled lot's place, not more
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 90 * SHARE


def _usd_offer(s: Studio, shares: int) -> tuple[str, str]:
    """A bid by BUYER for ``shares`` whole shares at 1 token a share: (its hash, the token)."""
    bidder, brand = party(s, BUYER), s.chain
    usd = str(brand.deploy("TestERC20"))
    brand.transact_at(usd, brand.artifact("TestERC20").abi, "mint", bidder.address, 10**24)
    return "0x" + offer_shares(bidder, s.db, shares * SHARE, 10**18, usd).digest.hex(), usd


def _allowance(s: Studio) -> int:
    brand = s.chain
    return int(brand.call(SHARES, "allowance", brand.address, brand.address_of(MARKET)))


@pytest.mark.parametrize(
    ("point", "new_lot"),
    [("market.accept.approved", 10), ("market.accept.approved", 50), ("tx-journaled-market:2", 10)],
)
def test_an_accept_killed_after_its_approval_and_a_listing_before_its_rerun(
    family: Studio, point: str, new_lot: int
) -> None:
    """Issue 16 race: `accept-shares 30` killed once its approval is mined (allowance 100 + 30),
    then `list-shares` of a new lot, then the accept rerun. The allowance must end at exactly the
    two lots (100 + new_lot). It used to end lower: the listing saw 130 and approved nothing (or
    raised it to 100 + new_lot), and the rerun, finding its own approval unspent, sent none, so
    the sale took 30 out of what the lots need. Killed with the sale journaled but not sent, the
    listing's client sends the journaled sale first and then covers both lots."""
    s, brand = family, family.chain
    ref, _ = _usd_offer(s, 500)
    first = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    killed = _cli(s, "market", "accept-shares", ref, "30", crash_at=point, key=0)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert _allowance(s) == 130 * SHARE
    listed = _cli(s, "market", "list-shares", str(new_lot), "--price", "0.001", key=0)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    [second] = [o for o in load_orders(s.db, brand.chain_id, brand.address) if o.digest != first.digest]
    rerun = _cli(s, "market", "accept-shares", ref, "30", key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert brand.call(SHARES, "balanceOf", party(s, BUYER).address) == 30 * SHARE  # sold once
    assert _allowance(s) == (100 + new_lot) * SHARE  # neither lower nor higher than the lots
    taker = party(s, 6)
    buy(taker, first, quantity=100 * SHARE)  # both lots still fill whole
    buy(taker, second, quantity=new_lot * SHARE)
    assert _allowance(s) == 0


def test_an_accept_killed_after_its_approval_then_its_lot_cancelled(family: Studio) -> None:
    """The killed accept's extra allowance is not left behind: cancelling the seller's lot sets
    the allowance to what is open (nothing), and the rerun approves just the accept again and
    spends it (the old rule left the cancelled lot's 100 approved after the sale)."""
    s, brand = family, family.chain
    ref, _ = _usd_offer(s, 500)
    lot = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    killed = _cli(s, "market", "accept-shares", ref, "30", crash_at="market.accept.approved", key=0)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    cancelled = _cli(s, "market", "cancel", "0x" + lot.digest.hex(), key=0)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert _allowance(s) == 0
    rerun = _cli(s, "market", "accept-shares", ref, "30", key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert brand.call(SHARES, "balanceOf", party(s, BUYER).address) == 30 * SHARE
    assert _allowance(s) == 0


@pytest.mark.parametrize("point", ["market.cancel.sent", "tx-confirmed-market"])
def test_a_lot_cancel_killed_after_the_cancel_lowers_the_allowance_on_rerun(
    family: Studio, point: str
) -> None:
    """`market cancel LOT` killed once the cancel is mined: the rerun sends no second cancel and
    lowers the allowance to the other open lot (it used to stay at both lots)."""
    s, brand = family, family.chain
    gone = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    list_shares(brand, s.db, 40 * SHARE, PER_SHARE)
    ref = "0x" + gone.digest.hex()
    killed = _cli(s, "market", "cancel", ref, crash_at=point, key=0)
    assert killed.returncode == KILLED, (point, killed.stdout + killed.stderr)
    assert int(brand.call(MARKET, "filled", gone.digest)) == 2**256 - 1  # the cancel is mined
    rerun = _cli(s, "market", "cancel", ref, key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _allowance(s) == 40 * SHARE
    cancels = [e for e in Journal(s.db).entries(brand.chain_id) if e.kind.startswith("market:cancel:")]
    assert [e.status for e in cancels] == [CONFIRMED]


def test_a_bulk_cancel_killed_after_the_cancel_drops_the_allowance_on_rerun(family: Studio) -> None:
    s, brand = family, family.chain
    list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    killed = _cli(s, "market", "cancel", "--all", crash_at="market.cancel.sent", key=0)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert _allowance(s) == 100 * SHARE
    rerun = _cli(s, "market", "cancel", "--all", key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _allowance(s) == 0
