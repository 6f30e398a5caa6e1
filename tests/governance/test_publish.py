"""Publishing on anvil when campaigns interleave: every campaign's leaves get their terms and split,
whatever order the campaigns are published in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import LoadedSpec, load_spec
from mintloom.governance.licenses import resolve_terms
from mintloom.governance.publish import publish_campaign, runs, uncovered
from mintloom.ledger import client as client_module
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign

pytestmark = pytest.mark.xdist_group("anvil")


def test_a_campaign_published_after_a_later_one_still_gets_its_terms_and_split(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
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
        CampaignRunner(studio.run_parts(), specs[name]).run()
    studio.anchor()
    publish_campaign(chain, studio.db, specs["late"].spec)
    publish_campaign(chain, studio.db, specs["early"].spec)
    leaves = {name: [a.leaf_index for a in Catalog(studio.db).assets(name)] for name in specs}
    assert len(leaves["early"]) == len(leaves["late"]) == 2
    for name, indices in leaves.items():
        for i in indices:
            assert chain.call("LicenseMarket", "termsOfLeaf", i) != [], (name, i)
            assert chain.call("RoyaltyVault", "splitOfLeaf", i) != 0, (name, i)


def _run_two(studio: Studio, tmp_path: Path) -> dict[str, LoadedSpec]:
    """Campaigns "early" then "late" run (two square images each) and anchored, nothing published."""
    deploy_all(studio.chain, studio.settings.governance)
    specs: dict[str, LoadedSpec] = {}
    for name in ("early", "late"):
        text = sample_spec(campaign=name, formats=("square",), copy=False, audio=False)
        specs[name] = load_spec(write_campaign(tmp_path / name, text, sample_audience(1)))
        CampaignRunner(studio.run_parts(), specs[name]).run()
    studio.anchor()
    return specs


def _state(chain: ChainClient, leaves: list[int]) -> list[tuple[list[int], int]]:
    return [
        (chain.call("LicenseMarket", "termsOfLeaf", i), chain.call("RoyaltyVault", "splitOfLeaf", i))
        for i in leaves
    ]


def test_the_earlier_campaign_fills_its_gap_and_leaves_the_later_one_as_it_was(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    """Publishing "early" after "late" covers exactly early's leaves, in one transaction per
    contract, with early's own terms; late's leaves keep what late attached."""
    chain = studio.chain
    specs = _run_two(studio, tmp_path)
    late_leaves = [a.leaf_index for a in Catalog(studio.db).assets("late")]
    early_leaves = sorted(a.leaf_index for a in Catalog(studio.db).assets("early"))
    publish_campaign(chain, studio.db, specs["late"].spec)
    before = _state(chain, late_leaves)
    published = publish_campaign(chain, studio.db, specs["early"].spec)
    assert len(published.transactions) == 2  # terms + split (the sample has no lineage)
    assert published.split_ranges == [(early_leaves[0], early_leaves[-1] + 1)]
    image_terms = resolve_terms(specs["early"].spec.governance.terms["image"])
    assert [t for _, _, t in published.terms_ranges] == [image_terms]
    assert _state(chain, late_leaves) == before
    for terms, split in _state(chain, early_leaves):
        assert terms == [image_terms] and split == published.split_id
    assert int(chain.call("RoyaltyVault", "rangeAt", 0)[0]) == early_leaves[0]  # sorted on chain
    again = publish_campaign(chain, studio.db, specs["early"].spec)
    assert again.transactions == [] and again.terms_ranges == [] and again.split_ranges == []


class Crash(BaseException):
    """Stands for the SIGKILL of a crash point (tests/ledger/test_crash.py uses the real one)."""


@pytest.mark.parametrize(
    "point",
    [
        "tx-journaled-attach-terms",
        "tx-sent-attach-terms",
        "tx-journaled-assign-split",
        "tx-confirmed-assign-split",
    ],
)
def test_a_gap_publish_cut_by_a_crash_reruns_without_attaching_twice(
    studio: Studio, anvil: NodeInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    """A crash while "early" fills its gap: the rerun (a new client, which reconciles the journal)
    finishes it, and every leaf holds its terms once and one split."""
    chain = studio.chain
    specs = _run_two(studio, tmp_path)
    publish_campaign(chain, studio.db, specs["late"].spec)

    def maybe(name: str) -> None:
        if name == point:
            raise Crash

    monkeypatch.setattr(client_module, "crash_point", maybe)
    with pytest.raises(Crash):
        publish_campaign(chain, studio.db, specs["early"].spec)
    monkeypatch.undo()
    rerun = ChainClient(chain.rpc_url, chain.account.key, studio.db, chain.deployments)
    publish_campaign(rerun, studio.db, specs["early"].spec)
    leaves = sorted(a.leaf_index for a in Catalog(studio.db).assets())
    image_terms = resolve_terms(specs["early"].spec.governance.terms["image"])
    for terms, split in _state(rerun, leaves):
        assert terms == [image_terms] and split != 0
    assert int(rerun.call("LicenseMarket", "rangeCount")) == 2  # one range per campaign
    assert int(rerun.call("RoyaltyVault", "rangeCount")) == 2
    assert publish_campaign(rerun, studio.db, specs["early"].spec).transactions == []


def test_uncovered_skips_leaves_in_any_range() -> None:
    leaves = [(i, i % 2) for i in (0, 1, 2, 5, 6, 7, 9, 12)]
    assert uncovered(leaves, []) == leaves
    assert uncovered(leaves, [(1, 3), (6, 7), (9, 12)]) == [(0, 0), (5, 1), (7, 1), (12, 0)]
    assert uncovered(leaves, [(0, 100)]) == []
    assert runs(uncovered(leaves, [(1, 2), (6, 7)])) == [
        (0, 1, 0),
        (2, 3, 0),
        (5, 6, 1),
        (7, 8, 1),
        (9, 10, 1),
        (12, 13, 0),
    ]
