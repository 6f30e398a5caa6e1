"""Publishing on anvil when campaigns interleave: every campaign's leaves get their terms and split,
whatever order the campaigns are published in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import LoadedSpec, load_spec
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign

pytestmark = pytest.mark.xdist_group("anvil")


@pytest.mark.xfail(
    strict=True,
    reason="publish covers only leaves at or after each contract's last range end (ranges are "
    "append-only on chain): a campaign published after a later campaign keeps no terms or split",
)
def test_a_campaign_published_after_a_later_one_still_gets_its_terms_and_split(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    """Campaign "early" runs but is not published (a crash before publish, or --no-publish);
    campaign "late" runs and publishes; publishing "early" afterwards must still attach licence
    terms and the royalty split to every one of its leaves, not leave them unlicensed."""
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    specs: dict[str, LoadedSpec] = {}
    for name in ("early", "late"):
        text = sample_spec(campaign=name, formats=("square",), copy=False, audio=False)
        specs[name] = load_spec(write_campaign(tmp_path / name, text, sample_audience(1)))
        CampaignRunner(studio, specs[name]).run()
    studio.anchor()
    publish_campaign(chain, studio.db, specs["late"].spec)
    publish_campaign(chain, studio.db, specs["early"].spec)
    leaves = {name: [a.leaf_index for a in Catalog(studio.db).assets(name)] for name in specs}
    assert len(leaves["early"]) == len(leaves["late"]) == 2
    for name, indices in leaves.items():
        for i in indices:
            assert chain.call("LicenseMarket", "termsOfLeaf", i) != [], (name, i)
            assert chain.call("RoyaltyVault", "splitOfLeaf", i) != 0, (name, i)
