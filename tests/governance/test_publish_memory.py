"""Publishing holds a page of the campaign, not the campaign (issue 14: publish kept every asset
row and every licence file's bytes in memory, ~15-25 KB per asset at 20k assets).

The catalog rows are written through the campaign writer with a real log, checkpoint and anchor
on anvil; only the media are left out (publishing reads rows, never media)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import CampaignSpec, load_spec
from mintloom.campaign.writer import BatchRows, CatalogWriter
from mintloom.governance import licence_metadata
from mintloom.governance.licence_metadata import stored_folders
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.published import folder_cid
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign

pytestmark = pytest.mark.xdist_group("anvil")


def _catalogued(studio: Studio, tmp_path: Path, name: str, n: int) -> CampaignSpec:
    """A campaign of ``n`` image rows, logged and catalogued in one batch."""
    spec = load_spec(write_campaign(tmp_path / name, sample_spec(campaign=name), sample_audience(1))).spec
    writer = CatalogWriter(studio.db, studio.log)
    writer.ensure_campaign(name, "0" * 64, os.urandom(32))
    cids = [str(cid_for(os.urandom(64))) for _ in range(n)]
    with writer.batch() as tx:
        indices = tx.append_leaves([(c, cid_for(c.encode()).encode()[-32:]) for c in cids], {})
        rows = BatchRows(assets=[_row(name, c, i) for c, i in zip(cids, indices, strict=True)])
        tx.add(rows)
    return spec


def _row(campaign: str, cid: str, leaf: int) -> AssetRow:
    return AssetRow(
        cid=cid, content_cid=cid, campaign=campaign, job_key=f"{campaign}-{leaf}", kind="image",
        media_type="image/png", extension="png", sidecar_cid=None, manifest_hash=b"\1" * 32,
        leaf_index=leaf, segment="s", locale="en-US", format="square", width=1, height=1,
        engine="compositor", engine_version="1", model_id=None, seed=leaf, path=f"{leaf}.png",
    )  # fmt: skip


def _publish_peak(studio: Studio, spec: CampaignSpec) -> int:
    studio.anchor()
    tracemalloc.start()
    try:
        publish_campaign(studio.chain, studio.db, spec, blobs=studio.blobs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_publishing_memory_does_not_grow_with_the_campaign(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(licence_metadata, "PAGE", 20, raising=False)  # pages as at 20k assets
    monkeypatch.setattr("mintloom.governance.publish.PAGE", 20, raising=False)
    deploy_all(studio.chain, studio.settings.governance)
    small = _publish_peak(studio, _catalogued(studio, tmp_path, "small", 40))
    large = _publish_peak(studio, _catalogued(studio, tmp_path, "large", 840))
    per_asset = (large - small) / 800
    assert per_asset < 1200, f"publishing holds {per_asset:.0f} bytes per asset"  # the old: 4.5 KB
    # and it still published all of them: terms on every leaf, one folder of every licence
    for a in Catalog(studio.db).assets():
        assert studio.chain.call("LicenseMarket", "termsOfLeaf", a.leaf_index) != []
    ((root, files),) = list(stored_folders(studio.db, studio.blobs))
    assert len(files) == 880 and folder_cid(files) == root
