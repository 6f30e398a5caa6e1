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
from mintloom.market.service import MARKET, list_shares
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.market.test_share_lots import PER_SHARE, SHARE, SHARES, family, party

pytestmark = [pytest.mark.xdist_group("anvil"), pytest.mark.slow]
__all__ = ["family"]  # the fixture, imported for this module's tests
POINTS = ("market.buy.checked", "market.buy.approved", "tx-journaled-market", "tx-sent-market")
POINTS += ("tx-confirmed-market",)
BUYER = 5


def _cli(s: Studio, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "MINTLOOM_WORKSPACE": str(s.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
        "MINTLOOM_CHAIN__PRIVATE_KEY": dev_key(BUYER), "COLUMNS": "300",
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
