"""`mintloom market buy-shares` SIGKILLed at each of its phases (checked, approved, journaled, sent,
confirmed but not reported) and run again buys the part once: the shares moved, the lot's filled
amount and the seller's ETH each count every part exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.ledger.node import dev_key
from mintloom.market.service import MARKET, list_shares, offer_shares
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.market.test_share_lots import PER_SHARE, SHARE, SHARES, family, party

pytestmark = [pytest.mark.xdist_group("anvil"), pytest.mark.slow]
__all__ = ["family"]  # the fixture, imported for this module's tests
POINTS = ("market.buy.checked", "market.buy.approved", "tx-journaled-market", "tx-sent-market")
POINTS += ("tx-confirmed-market",)
BUYER = 5


def _cli(
    s: Studio, *args: str, crash_at: str | None = None, key: int = BUYER
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "MINTLOOM_WORKSPACE": str(s.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
        "MINTLOOM_CHAIN__PRIVATE_KEY": dev_key(key), "COLUMNS": "300",
    }  # fmt: skip
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash_at is not None:
        env["MINTLOOM_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True, env=env,
        timeout=180, check=False,
    )  # fmt: skip


def test_a_share_buy_killed_at_each_phase_buys_once_on_rerun(family: Studio) -> None:
    s, brand = family, family.chain
    lot = list_shares(brand, s.db, 100 * SHARE, PER_SHARE)
    ref = "0x" + lot.digest.hex()
    buyer = party(s, BUYER).address
    seller_eth = brand.w3.eth.get_balance(brand.address)
    bought = 0
    for n, point in enumerate(POINTS, start=1):  # n whole shares at each point: each part is told apart
        killed = _cli(s, "market", "buy-shares", ref, str(n), crash_at=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout + killed.stderr)
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
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout + killed.stderr)
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
    """`list-shares` killed once its approval is mined, then rerun, leaves the allowance at the
    lot's amount (it used to stack a second approval), and a cancelled lot's allowance is reused."""
    s, brand = family, family.chain
    mkt, approvals = brand.address_of(MARKET), _approvals(s, brand.chain_id)
    killed = _cli(s, "market", "list-shares", "40", "--price", "0.001", crash_at="tx-confirmed-market", key=0)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    rerun = _cli(s, "market", "list-shares", "40", "--price", "0.001", key=0)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 40 * SHARE
    assert _approvals(s, brand.chain_id) == approvals + 1
    lot = list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 50 * SHARE
    brand.transact(MARKET, "cancel", [lot.order.as_tuple()], kind="test:cancel")
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)  # takes the cancelled lot's place, not more
    assert brand.call(SHARES, "allowance", brand.address, mkt) == 50 * SHARE
