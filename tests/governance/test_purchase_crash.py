"""A licence purchase or a royalty claim killed mid-flight and run again pays once.

A real `mintloom license buy` is SIGKILLed at each crash point of its transaction (journaled but
not sent, sent but not confirmed, confirmed but not reported); the rerun must report that
purchase instead of buying a second licence. A purchase whose identical predecessor completed is
deliberate and is sent. A `mintloom royalties claim` killed after sending cannot pay twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.governance.publish import publish_campaign
from mintloom.governance.royalties import claimable
from mintloom.ledger.assets import register_asset
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.ledger.node import NodeInfo
from mintloom.market.licensing import license_balance
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")

SENDER = "0x" + "11" * 20

SPEC = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False) + (
    "governance:\n  terms: {image: commercial-remix}\n  split:\n    - {role: brand, bps: 10000}\n"
)


def _cli(ws: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "300"}
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash_at is not None:
        env["MINTLOOM_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)  # fmt: skip


def _published_asset(studio: Studio, tmp_path: Path) -> str:
    """One image, logged, anchored, with its terms and split attached, registered as a token."""
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    loaded = load_spec(write_campaign(tmp_path / "c", SPEC, sample_audience(1)))
    CampaignRunner(studio.run_parts(), loaded).run()
    studio.anchor()
    publish_campaign(chain, studio.db, loaded.spec)
    catalog = Catalog(studio.db)
    (asset,) = catalog.assets("tiny")
    register_asset(chain, studio.log, catalog, asset.cid, blobs=studio.run_parts().blobs)
    return asset.cid


def _purchases(studio: Studio) -> list[str]:
    entries = Journal(studio.db).entries(studio.chain.chain_id)
    return [e.tx_hash for e in entries if e.kind.startswith("buy-license:") and e.status == CONFIRMED]


def test_a_purchase_killed_mid_flight_is_not_bought_twice(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    cid = _published_asset(studio, tmp_path)
    ws, me = studio.workspace.root, studio.chain.address
    buy = ("license", "buy", cid, "--terms", "commercial-remix")
    owned = 0
    for point in ("tx-journaled-buy-license", "tx-sent-buy-license", "tx-confirmed-buy-license"):
        killed = _cli(ws, *buy, crash_at=point)
        assert killed.returncode == -9, (point, killed.stdout + killed.stderr)
        rerun = _cli(ws, *buy)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        owned += 1
        assert license_balance(studio.chain, me, cid, "commercial-remix") == owned, point  # not 2 licences
        out = " ".join(rerun.stdout.split())
        assert len(_purchases(studio)) == owned and _purchases(studio)[-1] in out, point
        assert "reported, not bought again" in out, (point, out)
    # an identical purchase after a completed one is a deliberate second purchase
    again = _cli(ws, *buy)
    assert again.returncode == 0 and "not bought again" not in again.stdout, again.stdout + again.stderr
    assert license_balance(studio.chain, me, cid, "commercial-remix") == owned + 1
    assert len(_purchases(studio)) == owned + 1


def test_a_claim_killed_after_sending_pays_once(studio: Studio, anvil: NodeInfo, tmp_path: Path) -> None:
    cid = _published_asset(studio, tmp_path)
    ws, chain = studio.workspace.root, studio.chain
    assert _cli(ws, "license", "buy", cid, "--terms", "commercial-remix").returncode == 0
    owed = claimable(chain)
    vault = chain.address_of("RoyaltyVault")
    before = chain.w3.eth.get_balance(vault)
    assert owed > 0
    killed = _cli(ws, "royalties", "claim", crash_at="tx-sent-claim")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    rerun = _cli(ws, "royalties", "claim")
    assert rerun.returncode == 7 and "nothing to claim" in rerun.stderr, rerun.stdout + rerun.stderr
    assert chain.w3.eth.get_balance(vault) == before - owed  # paid out exactly once
    assert claimable(chain) == 0
    claims = [e for e in Journal(studio.db).entries(chain.chain_id) if e.kind.startswith("claim:")]
    assert [e.status for e in claims] == [CONFIRMED]


def test_catalog_from_before_delivery_gets_the_column_and_keeps_old_purchases_done(tmp_path: Path) -> None:
    """An entry journaled before delivery was tracked is never re-reported as a crashed purchase."""
    db = open_workspace_database(f"sqlite:///{tmp_path / 'old.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_journal DROP COLUMN delivered"))
        conn.execute(text(
            "INSERT INTO ledger_journal (chain_id, kind, payload, sender, nonce, tx_hash, intent, raw_tx,"
            " status, created_at, updated_at) VALUES (1, 'buy-license:x:1', '{}', :s, 0, :h, 'i', x'01',"
            " 'confirmed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ), {"s": SENDER, "h": "0x" + "44" * 32})  # fmt: skip
    journal = Journal(db)
    assert journal.undelivered(1, SENDER, "i") is None  # the old purchase completed: a new one is sent
    journal.record_intent(chain_id=1, kind="buy-license:x:1", payload={}, sender=SENDER, nonce=1,
                          tx_hash="0x" + "55" * 32, raw=b"\x02", intent="i", repeatable=True)  # fmt: skip
    crashed = journal.undelivered(1, SENDER, "i")
    assert crashed is not None and crashed.tx_hash == "0x" + "55" * 32
    journal.mark_delivered(crashed.tx_hash)
    assert journal.undelivered(1, SENDER, "i") is None
