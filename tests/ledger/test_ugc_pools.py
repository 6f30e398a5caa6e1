"""`verify`'s UGC reward of a child logged in another organisation's log (ledger/ugc_pools.py),
attacked on one anvil chain with brand and fan workspaces.

The fan deploys a pool of their own running UGCRewards' genuine code over the brand's licence
market, wired to a FakeFamily that says every token is in the family (and reports the brand's
CreativeAssets and LicenseTemplates, as a FamilyConfig over them would). Funded by the fan, it
pays the fan 2 ETH for the fan's child, proven in the fan's own log: a genuine ``RewardGranted``
and ``ChildProvenInLog`` for the child. `verify` must not show that reward as a family's. It then
shows the 0.1 ETH the brand family's own pool pays for the same child, found past the forged event.

On the code before ugc_pools' fix (3fc73f3^) the forged reward was shown: ``genuine_pool`` (asserted
True for the fan's pool below) was the only test a pool had to pass, and the first match was taken.

The second case uses only genuine code: the fan deploys the project's own FamilyConfig over the
brand's CreativeAssets with themselves as owner, adds a range holding the brand's published ad,
and wires their own genuine UGCRewards to it. On the code before the brand-control check
(``_brand_controlled``, issue 16) that self-paid reward was shown as the family's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.governance.licenses import resolve_terms
from mintloom.ledger.client import ChainClient
from mintloom.ledger.node import dev_key
from mintloom.ledger.reader import Deployments
from mintloom.ledger.ugc_pools import genuine_pool
from mintloom.market.licensing import buy_license
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.cli.runs import mintloom, party
from tests.governance.test_dao import FAN, anchored
from tests.governance.test_remix import fan
from tests.governance.test_ugc_attester import _fan_sees_reward
from tests.governance.test_ugc_cross_org import _brand_family, _in_fan_workspace

__all__ = ["anchored", "fan"]  # the fixtures, used by name
pytestmark = pytest.mark.xdist_group("anvil")
TERMS = "commercial-remix"
FORGED = 2 * 10**18  # what the fan's own pool pays (the family's pays 0.1 ETH)


def _fans_own_pool(brand: Studio, tmp_path: Path) -> str:
    """A genuine UGCRewards over the brand's LicenseMarket, wired to a FakeFamily, funded and
    configured by the fan (its owner); recorded in a file of its own, not in anyone's workspace."""
    forger = ChainClient(brand.chain.rpc_url, dev_key(FAN), brand.db, Deployments(tmp_path / "forger.json"))
    family = forger.deploy(
        "FakeFamily",
        brand.chain.address_of("CreativeAssets"),
        brand.chain.address_of("LicenseTemplates"),
        resolve_terms(TERMS),
    )
    market = brand.chain.address_of("LicenseMarket")
    pool = str(forger.deploy("UGCRewards", forger.address, market, family, 86400))
    abi = forger.artifact("UGCRewards").abi
    forger.transact_at(pool, abi, "fund", value=FORGED)
    for fn, arg in (("setReward", FORGED), ("setCreatorCap", 1), ("setBudgetCap", FORGED)):
        forger.transact_at(pool, abi, fn, arg)
    return pool


def _fans_own_family_pool(brand: Studio, tmp_path: Path, parent: Path) -> str:
    """A genuine FamilyConfig over the brand's CreativeAssets, owned by the fan, holding the leaf
    of the brand's ``parent`` (its anchored checkpoint), and a genuine UGCRewards over the brand's
    LicenseMarket wired to it: both owned, funded and configured by the fan."""
    forger = ChainClient(brand.chain.rpc_url, dev_key(FAN), brand.db, Deployments(tmp_path / "forger2.json"))
    receipt = brand.log.receipt(str(cid_for(parent.read_bytes())))
    assert receipt is not None and receipt.anchor is not None
    family = str(
        forger.deploy(
            "FamilyConfig",
            forger.address,
            brand.chain.address_of("CreativeAssets"),
            brand.chain.address_of("LicenseTemplates"),
            resolve_terms(TERMS),
        )
    )
    forger.transact_at(
        family,
        forger.artifact("FamilyConfig").abi,
        "addRange",
        receipt.tree_size,
        receipt.leaf_index,
        receipt.leaf_index + 1,
    )
    pool = str(
        forger.deploy("UGCRewards", forger.address, brand.chain.address_of("LicenseMarket"), family, 86400)
    )
    abi = forger.artifact("UGCRewards").abi
    forger.transact_at(pool, abi, "fund", value=FORGED)
    for fn, arg in (("setReward", FORGED), ("setCreatorCap", 1), ("setBudgetCap", FORGED)):
        forger.transact_at(pool, abi, fn, arg)
    return pool


def _leaf(fan_ws: Workspace, cid: str) -> int:
    db = open_workspace_database(fan_ws.database_url())
    try:
        receipt = TransparencyLog(db).receipt(cid)
    finally:
        db.dispose()
    assert receipt is not None and receipt.anchor is not None
    return receipt.leaf_index


@pytest.mark.parametrize("forgery", ["genuine pool, fake family", "genuine pool and family, the fan's"])
def test_a_pool_whose_family_the_brand_does_not_control_is_not_shown(
    anchored: Studio, fan: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """UGCRewards' own code paying the fan 2 ETH for a child of the brand's ad, over a family that is
    either a fake (says yes to every leaf) or the project's genuine FamilyConfig the fan set up
    over the brand's assets: verify shows neither, and still finds the family pool's 0.1 ETH."""
    brand = anchored
    parent, family_pool = _brand_family(brand, tmp_path, monkeypatch)
    _in_fan_workspace(monkeypatch, fan)
    child = tmp_path / "child.png"
    assert mintloom("remix", str(parent), "--template", "frame", "--out", str(child)).exit_code == 0
    cid = str(cid_for(child.read_bytes()))
    buy_license(party(brand, FAN), str(cid_for(parent.read_bytes())), TERMS)
    register = ("ugc", "register", str(child), "--parent", str(parent), "--licence", TERMS, "--family")

    if forgery.startswith("genuine pool, fake"):
        forged_pool = _fans_own_pool(brand, tmp_path)
    else:
        forged_pool = _fans_own_family_pool(brand, tmp_path, parent)
    forged = mintloom(*register, forged_pool)
    assert forged.exit_code == 0 and "2 ETH granted" in " ".join(forged.output.split()), forged.output
    assert genuine_pool(brand.chain, forged_pool)  # UGCRewards' own code: the code check alone passes it
    leaf = _leaf(fan, cid)
    assert _fan_sees_reward(fan, leaf, cid) is None  # no pool of a family the brand controls paid it

    rewarded = mintloom(*register, family_pool)
    assert rewarded.exit_code == 0 and "0.1 ETH granted" in " ".join(rewarded.output.split()), rewarded.output
    shown = _fan_sees_reward(fan, leaf, cid)  # the family's reward, after the forged one in the log
    assert shown is not None and (shown.pool, shown.amount) == (family_pool, str(10**17))
    assert shown.creator == party(brand, FAN).address
