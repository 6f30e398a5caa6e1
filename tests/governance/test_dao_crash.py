"""`mintloom dao propose|vote|queue|execute` and `mintloom ugc register` SIGKILLed around their
transaction (signed and journaled but not sent; sent, receipt not recorded; recorded, not
reported): the rerun finishes and reports what the killed run did, nothing is sent twice (the
journal holds one confirmed write per step), a deliberate repeat is still refused by name, and the
workspace stays usable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.spec import load_spec
from mintloom.governance.publish import publish_campaign
from mintloom.governance.remix import remix
from mintloom.ledger.assets import register_asset
from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.cli.runs import as_party, mintloom, party
from tests.conftest import PASSWORD
from tests.governance.test_dao import FAN, _hero, anchored, mine
from tests.governance.test_ugc_rewards import _dao_sets_up_the_pool, _register_to
from tests.market.test_service import _sent

__all__ = ["anchored"]  # the fixture, used by name
pytestmark = pytest.mark.xdist_group("anvil")
POINTS = ("tx-journaled", "tx-sent", "tx-confirmed")


def _cli(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "300"}
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash_at is not None:
        env["MINTLOOM_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip


def _killed_then_rerun(args: tuple[str, ...], point: str) -> str:
    """Kill ``args`` at ``point``, rerun it; the rerun's output (one line)."""
    killed = _cli(*args, crash_at=point)
    assert killed.returncode == -9, (point, killed.stdout + killed.stderr)
    rerun = _cli(*args)
    assert rerun.returncode == 0, (point, rerun.stdout + rerun.stderr)
    return " ".join(rerun.stdout.split())


def _confirmed(s: Studio, prefix: str) -> list[str]:
    entries = Journal(s.db).entries(s.chain.chain_id)
    return [e.tx_hash for e in entries if e.kind.startswith(prefix) and e.status == CONFIRMED]


def _refused_sending_nothing(s: Studio, *args: str, words: str) -> None:
    before = _sent(s.chain)
    again = _cli(*args)
    assert again.returncode == 7 and words in " ".join(again.stderr.split()), again.stdout + again.stderr
    assert _sent(s.chain) == before


def test_a_proposal_killed_mid_flight_is_proposed_once(anchored: Studio) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    for i, point in enumerate(POINTS):
        propose = ("dao", "propose", "--fee", f"0.0{i + 2}")
        out = _killed_then_rerun(propose, f"{point}-dao-propose")
        assert f"proposal #{i + 1}" in out and f"to 0.0{i + 2} ETH" in out, (point, out)
        assert len(_confirmed(s, "dao-propose:")) == i + 1, point  # one propose sent per proposal
    # a deliberate repeat of the last proposal: refused before anything is sent (terms included)
    _refused_sending_nothing(s, "dao", "propose", "--fee", "0.04", words="#3 already proposes exactly this")
    assert len(_confirmed(s, "dao-propose:")) == len(POINTS)  # no second propose was sent
    status = _cli("dao", "status")
    assert status.returncode == 0 and status.stdout.count("0.0") >= 3, status.stdout + status.stderr


def test_vote_queue_and_execute_killed_mid_flight_each_happen_once(
    anchored: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    assert mintloom("dao", "propose", "--fund", "1", "--reward", "0.1").exit_code == 0
    mine(s, 2)
    out = _killed_then_rerun(("dao", "vote", "1", "for"), "tx-sent-dao-vote-for")
    assert "voted for on #1: for 1000" in out, out
    _refused_sending_nothing(s, "dao", "vote", "1", "for", words="already voted on proposal #1")
    mine(s, 25)
    out = _killed_then_rerun(("dao", "queue", "1"), "tx-confirmed-dao-queue")
    assert "queued #1" in out, out
    _refused_sending_nothing(s, "dao", "queue", "1", words="it is queued, not succeeded")
    mine(s, 1, seconds=61)
    treasury_before = s.chain.w3.eth.get_balance(s.chain.address_of("TimelockController"))
    out = _killed_then_rerun(("dao", "execute", "1", "--pay"), "tx-journaled-dao-execute")
    assert "executed #1" in out, out
    _refused_sending_nothing(s, "dao", "execute", "1", "--pay", words="it is executed, not queued")
    assert s.chain.call("UGCRewards", "available") == 10**18  # funded once, not twice
    assert treasury_before == 0 and s.chain.w3.eth.get_balance(s.chain.address_of("TimelockController")) == 0
    for step in ("vote-for", "queue", "execute"):
        assert len(_confirmed(s, f"dao-{step}:")) == 1, step
    assert "executed" in _cli("dao", "status").stdout


@pytest.mark.parametrize("point", POINTS)
def test_a_ugc_registration_killed_mid_flight_is_rewarded_once(
    anchored: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    hero = _hero(s)
    parent = tmp_path / "hero.png"
    parent.write_bytes(s.blobs.get(hero))
    child = remix(parent.read_bytes(), "frame", signer=s.asset_signer, log=s.log, title="frame.png")
    s.anchor()
    publish_campaign(s.chain, s.db, load_spec(s.workspace.root.parent / "c1" / "campaign.yaml").spec)
    register_asset(s.chain, s.log, Catalog(s.db), hero, blobs=s.blobs)
    fan = party(s, FAN)
    _register_to(s, child, fan.address)
    (tmp_path / "child.png").write_bytes(child.data)
    _dao_sets_up_the_pool(s, monkeypatch)
    as_party(monkeypatch, FAN)
    assert mintloom("license", "buy", hero, "--terms", "commercial-remix").exit_code == 0

    register = ("ugc", "register", str(tmp_path / "child.png"), "--parent", str(parent),
                "--licence", "commercial-remix")  # fmt: skip
    out = _killed_then_rerun(register, f"{point}-ugc-register")
    assert "0.1 ETH granted" in out, out
    assert s.chain.call("UGCRewards", "available") == 10**18 - 10**17  # granted once
    fan_journal = [e for e in Journal(s.db).entries(s.chain.chain_id) if e.kind.startswith("ugc-register:")]
    assert [e.status for e in fan_journal] == [CONFIRMED]
    before = _sent(fan)
    again = _cli(*register)
    assert again.returncode == 7 and "no UGC reward for" in again.stderr, again.stdout + again.stderr
    assert _sent(fan) == before
    claimed = _cli("ugc", "claim")
    assert claimed.returncode == 0 and "0.1 ETH" in claimed.stdout, claimed.stdout + claimed.stderr
