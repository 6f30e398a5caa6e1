"""Cross-organisation UGC on one anvil chain: the brand's family funds its pool by DAO vote; a fan
with their own workspace, keys, log and contracts remixes a brand ad (`mintloom remix`: logged and
anchored in the FAN's log, never the brand's), buys a licence of the parent and registers the child
from the fan's own log (`mintloom ugc register --family`), then claims. Refused by name, sending
nothing: the same child again, a re-signed copy of the parent, an account that is not the fan
log's owner (squatting the fan's leaf) and a pool address that is no contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.campaign.spec import load_spec
from mintloom.errors import (
    DuplicateChildError,
    NearCopyError,
    NotLogOwnerError,
    ParentNotInFamilyError,
    RewardBudgetError,
)
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.node import dev_key
from mintloom.market.licensing import buy_license
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.cli.runs import as_party, mintloom, party
from tests.governance.test_dao import FAN, _hero, anchored
from tests.governance.test_remix import fan
from tests.governance.test_ugc_rewards import _dao_sets_up_the_pool
from tests.market.test_service import _sent

__all__ = ["anchored", "fan"]  # the fixtures, used by name
pytestmark = pytest.mark.xdist_group("anvil")


def _brand_family(s: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The brand's family Spring (pool funded, 0.1 ETH a child, 1 per creator per epoch) with its
    hero published and registered; returns the hero file and the family's UGCRewards address."""
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    hero = _hero(s)
    parent = tmp_path / "ad.png"
    parent.write_bytes(s.blobs.get(hero))
    publish_campaign(s.chain, s.db, load_spec(s.workspace.root.parent / "c1" / "campaign.yaml").spec)
    register_asset(s.chain, s.log, Catalog(s.db), hero, blobs=s.blobs)
    _dao_sets_up_the_pool(s, monkeypatch)
    return parent, s.chain.address_of("UGCRewards")


def _in_fan_workspace(monkeypatch: pytest.MonkeyPatch, fan_ws: Workspace, key_index: int = FAN) -> None:
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(fan_ws.root))
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", dev_key(key_index))


def test_a_child_in_the_fans_own_log_is_rewarded(
    anchored: Studio, fan: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand = anchored
    brand_root = str(brand.workspace.root)
    parent, pool = _brand_family(brand, tmp_path, monkeypatch)

    _in_fan_workspace(monkeypatch, fan)
    child = tmp_path / "child.png"
    made = mintloom("remix", str(parent), "--template", "frame", "--out", str(child))
    assert made.exit_code == 0, made.output
    cid = str(cid_for(child.read_bytes()))
    assert brand.log.index_of(cid) is None  # the brand's log never saw the child
    fan_db = open_workspace_database(fan.database_url())
    try:
        receipt = TransparencyLog(fan_db).receipt(cid)
        assert receipt is not None and receipt.anchor is not None
        assert receipt.parent == str(cid_for(parent.read_bytes()))  # the fan's leaf names the brand's ad
    finally:
        fan_db.dispose()
    fan_chain = party(brand, FAN)  # the fan's account, reading the brand's contracts
    buy_license(fan_chain, str(cid_for(parent.read_bytes())), "commercial-remix")

    register = ("ugc", "register", str(child), "--parent", str(parent), "--licence", "commercial-remix")
    # the brand's account, in the fan's workspace, cannot claim the fan's leaf: not its log
    _in_fan_workspace(monkeypatch, fan, 0)
    before = _sent(party(brand, 0))
    squat = mintloom(*register, "--family", pool)
    assert isinstance(squat.exception, NotLogOwnerError), squat.output
    assert _sent(party(brand, 0)) == before

    _in_fan_workspace(monkeypatch, fan)
    rewarded = mintloom(*register, "--family", pool)
    text = " ".join(rewarded.output.split())
    assert rewarded.exit_code == 0 and "0.1 ETH granted" in text, rewarded.output
    gas = int(text.split("gas used ")[1].split()[0])
    assert 50_000 < gas < 300_000, gas  # reported: a cross-organisation registration's gas
    assert brand.chain.call("UGCRewards", "isRewarded", token_id(cid))
    assert brand.chain.call("UGCRewards", "owed", fan_chain.address) == 10**17

    before = _sent(fan_chain)
    assert isinstance(mintloom(*register, "--family", pool).exception, DuplicateChildError)
    copy = ("ugc", "register", str(parent), "--parent", str(parent), "--licence", "commercial-remix")
    assert isinstance(mintloom(*copy, "--family", pool).exception, NearCopyError)
    nowhere = mintloom(*register, "--family", "0x" + "11" * 20)
    assert isinstance(nowhere.exception, ParentNotInFamilyError), nowhere.output
    assert _sent(fan_chain) == before

    balance = fan_chain.w3.eth.get_balance(fan_chain.address)
    claimed = mintloom("ugc", "claim", "--family", pool)
    assert claimed.exit_code == 0 and "0.1 ETH" in claimed.output, claimed.output
    assert fan_chain.w3.eth.get_balance(fan_chain.address) > balance
    assert isinstance(mintloom("ugc", "claim", "--family", pool).exception, RewardBudgetError)
    monkeypatch.setenv("MINTLOOM_WORKSPACE", brand_root)
    as_party(monkeypatch, 0)
    assert brand.chain.call("UGCRewards", "available") == 10**18 - 10**17
