"""A campaign family's shares and DAO deployed on the session's anvil node (issue 16)."""

from __future__ import annotations

import pytest

from mintloom.errors import FamilyMismatchError, NotDeployedError
from mintloom.ledger.deploy import FamilySpec, LeafRange, deploy_all, deploy_family
from mintloom.ledger.node import NodeInfo
from mintloom.studio import Studio

pytestmark = pytest.mark.xdist_group("anvil")

SUPPLY = 1_000_000 * 10**18


def _spec(chain_terms: int, name: str = "Spring shares") -> FamilySpec:
    return FamilySpec(name, "SPRING", SUPPLY, chain_terms, (LeafRange(4, 0, 4),))


def test_family_rights_end_with_the_timelock(studio: Studio, shared_anvil: NodeInfo) -> None:
    """After deployment the brand holds every share but no family right: the timelock owns the
    config and the pool, only the governor proposes, and nobody administers the timelock."""
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    chain.transact("ProvenanceLog", "anchor", 4, b"\x01" * 32, [])
    terms = int(chain.call("LicenseTemplates", "COMMERCIAL_REMIX"))
    out = deploy_family(chain, _spec(terms))
    me, timelock = chain.address, out["TimelockController"]
    assert chain.call("RoyaltyShares", "balanceOf", me) == SUPPLY
    assert chain.call("FamilyConfig", "owner") == timelock
    assert chain.call("UGCRewards", "owner") == timelock
    assert chain.call("FamilyConfig", "containsLeaf", 3) and not chain.call("FamilyConfig", "containsLeaf", 4)
    proposer = chain.call("TimelockController", "PROPOSER_ROLE")
    admin = chain.call("TimelockController", "DEFAULT_ADMIN_ROLE")
    assert chain.call("TimelockController", "hasRole", proposer, out["CreativeGovernor"])
    assert not chain.call("TimelockController", "hasRole", proposer, me)
    assert not chain.call("TimelockController", "hasRole", admin, me)
    assert chain.call("CreativeGovernor", "token") == out["RoyaltyShares"]
    assert chain.call("Marketplace", "isShareToken", out["RoyaltyShares"])  # tradable as share lots
    assert deploy_family(chain, _spec(terms)) == out  # re-running deploys and sends nothing new
    with pytest.raises(FamilyMismatchError, match="Autumn"):
        deploy_family(chain, _spec(terms, "Autumn shares"))


def test_family_needs_the_core_contracts_first(studio: Studio, shared_anvil: NodeInfo) -> None:
    with pytest.raises(NotDeployedError, match="CreativeAssets"):
        deploy_family(studio.chain, _spec(3))
