"""The market suite's set-ups on the shared anvil: ``market``, a workspace with two small published
campaigns (c1, c2: one audience row holding a canary, a hero image, its derived square variant and
two copy assets each); ``family``, the core contracts and a family whose 1000 shares (share lots)
the brand holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import AUDIENCE_ROWS, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import FamilySpec, LeafRange, deploy_all, deploy_family
from mintloom.ledger.node import NodeInfo
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.cli.runs import party

CANARY = "Zq7canaryXk"
"""An audience value that must never leave the catalog through the market."""
PRICES = {"image": 10**17, "copy": 2 * 10**16}
SHARE = 10**18  # share units in one whole share
SUPPLY = 1000 * SHARE
PER_SHARE = 10**15  # 0.001 ETH a share
SHARES = "RoyaltyShares"


@dataclass
class Market:
    studio: Studio
    node: NodeInfo

    @property
    def brand(self) -> ChainClient:
        return self.studio.chain

    def party(self, index: int) -> ChainClient:
        return party(self.studio, index)


@pytest.fixture
def market(studio: Studio, shared_anvil: NodeInfo, tmp_path: Path) -> Market:
    deploy_all(studio.chain, studio.settings.governance)
    header = "segment,name,city,offer,currency,price,deadline\n"
    row = AUDIENCE_ROWS[0].split(",")
    row[1] = CANARY
    for name in ("c1", "c2"):
        text = sample_spec(campaign=name, formats=("square",), copy=True, audio=False)
        loaded = load_spec(write_campaign(tmp_path / name, text, header + ",".join(row) + "\n"))
        CampaignRunner(studio.run_parts(), loaded).run()
    studio.anchor()
    for name in ("c1", "c2"):
        publish_campaign(studio.chain, studio.db, load_spec(tmp_path / name / "campaign.yaml").spec)
    return Market(studio, shared_anvil)


@pytest.fixture
def family(studio: Studio, shared_anvil: NodeInfo) -> Studio:
    """The core contracts and a family of 1000 shares held by the brand (no campaign needed)."""
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    chain.transact("ProvenanceLog", "anchor", 4, b"\x01" * 32, [])
    terms = int(chain.call("LicenseTemplates", "COMMERCIAL_REMIX"))
    deploy_family(chain, FamilySpec("Spring shares", "SPRING", SUPPLY, terms, (LeafRange(4, 0, 4),)))
    return studio
