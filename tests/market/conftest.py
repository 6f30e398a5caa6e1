"""A workspace on the shared anvil with two small published campaigns (c1, c2: one audience row
holding a canary, a hero image, its derived square variant and two copy assets each)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import AUDIENCE_ROWS, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign

CANARY = "Zq7canaryXk"
"""An audience value that must never leave the catalog through the market."""
PRICES = {"image": 10**17, "copy": 2 * 10**16}


@dataclass
class Market:
    studio: Studio
    node: NodeInfo

    @property
    def brand(self) -> ChainClient:
        return self.studio.chain

    def party(self, index: int) -> ChainClient:
        chain = self.studio.chain
        return ChainClient(chain.rpc_url, dev_key(index), self.studio.db, chain.deployments)


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
